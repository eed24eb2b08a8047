"""The strategy lab (issue 18): backtests of the desk's own Strategy classes on recorded bars or ticks.

The account is the sim's Ledger (margins, fees, today/yesterday lots, settlement), the strategy is
the class users upload, unchanged; user code runs only in a child process (child.py). See
docs/lab.md for the rules of bar mode and what the lab adds to or departs from API.md.
"""
