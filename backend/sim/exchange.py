"""The simulated front, counter and exchange behind one `sim://name` address.

It owns the market, the accounts and every connected API object's session. Requests are handled
on the caller's thread under one native lock; answers are posted to each API object's own OS
thread, as the real library calls back. A native clock thread drives the market, timed tasks
(reconnects, slow answers) and the day roll.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from backend.sim import wire
from backend.sim.accounts import AccountBook, hash_password, order_key
from backend.sim.calendar import in_session, now_shanghai, previous_business_day, session_bounds, trading_day_for
from backend.sim.instruments import FeeRates, InstrumentSpec, builtin_instruments, full_market
from backend.sim.journal import Journal
from backend.sim.ledger import Ledger
from backend.sim.links import Link
from backend.sim.market import MarketSim, new_quote, read_replay
from backend.sim.registry import SimSettings
from backend.sim.rows import dating_rows, depth_struct, stamp_for
from backend.sim.structs import struct_classes
from backend.sim.trading import OrderDesk
from lib.native import NativeEvent, RLock, SimpleQueue, monotonic, start_new_thread

ORDER = struct_classes("td")["CThostFtdcOrderField"]
TRADE = struct_classes("td")["CThostFtdcTradeField"]
SLOT_CHUNK = 256  # snapshots of a market slot handed to the API threads at a time (see _market_slot)
QUOTES_EVERY = 1.0  # seconds between journal entries of the moved quotes (what a kill -9 may lose)
QUOTES_SHARE = 0.02  # ... or longer: journaling the quotes takes at most this share of the clock's CPU
CLOSE_MARGIN = 0.001  # seconds before a session's end its last lazily walked snapshot falls at the latest
COMPACT_AFTER = 600  # quote entries in one journal before it is compacted (keeps a restart's replay short)
_ID_FIELDS = {"sys": "OrderSysID", "trade": "TradeID", "local": "OrderLocalID", "sequence": "SequenceNo",
              "broker_seq": "BrokerOrderSeq"}  # fmt: skip


def _day_text(day: date) -> str:
    return day.strftime("%Y%m%d")


class SimExchange:
    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.clock = settings.clock or now_shanghai
        self.lock = RLock()
        self.rng = random.Random(settings.seed ^ 0x5EED)
        self.unreachable = False
        self.desk = OrderDesk(self)
        self.accounts: dict[str, AccountBook] = {}
        self.links: set[Link] = set()
        self.subscribers: dict[str, set[Link]] = {}
        self.resting: dict[str, int] = {}
        self._ids: dict[str, int] = dict.fromkeys(_ID_FIELDS, 0)
        # Real SessionIDs are large and may be negative: start below zero so clients meet that.
        self._ids["session"] = -(int(time.time()) % 1_000_000_000)
        self._tasks: list[tuple[float, int, Any, tuple]] = []
        self._task_order = itertools.count()
        self._wake: Any = SimpleQueue()
        self._closing = False
        self._stopped = NativeEvent()
        # While a request or a market slot runs, callbacks are gathered per link and handed over once.
        self.batch: dict[Link, list[Any]] | None = None
        self._stamp_key: tuple[int, ...] = ()
        self._stamp_text = ("", "")
        directory = Path(settings.data_dir) / f"sim-{settings.name or 'default'}" if settings.data_dir else None
        self.journal = Journal(directory)
        self._quote_entries = 0
        self._restore()
        self.market.start_walk(monotonic())
        self._active: list[str] = []
        self._active_set: set[str] = set()  # what the clock steps; every other instrument walks lazily
        self._active_dirty = True
        self._replay: Any = None
        start_new_thread(self._run_clock, ())

    # --- state and persistence ----------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> tuple[str, str]:
        """(YYYYMMDD, HH:MM:SS) of the clock, formatted once per second at most."""
        now = self.clock()
        key = (now.year, now.month, now.day, now.hour, now.minute, now.second)
        if key != self._stamp_key:
            self._stamp_key = key
            self._stamp_text = (now.strftime("%Y%m%d"), now.strftime("%H:%M:%S"))
        return self._stamp_text

    def _restore(self) -> None:
        snapshot, entries = self.journal.load()
        today = _day_text(trading_day_for(self.now()))
        self.trading_day = (snapshot or {}).get("trading_day") or today
        specs = self._instrument_table(
            date(*map(int, (self.trading_day[:4], self.trading_day[4:6], self.trading_day[6:])))
        )
        for saved in (snapshot or {}).get("specs", {}).values():
            spec = InstrumentSpec(
                **dict(saved, fees=FeeRates(**saved["fees"]), sessions=tuple(map(tuple, saved["sessions"])))
            )
            specs.setdefault(spec.symbol, spec)
        self.specs = specs
        self.market = MarketSim(specs.values(), self.settings.seed, (snapshot or {}).get("market"))
        self._ids.update((snapshot or {}).get("ids", {}))
        for config in self.settings.accounts:
            self.accounts[config.userid] = AccountBook(
                config.userid, hash_password(config.password), Ledger(config.userid, config.balance, self.trading_day)
            )
        for userid, saved in (snapshot or {}).get("accounts", {}).items():
            self._apply_account(userid, saved)
        for entry in entries:
            self._apply_entry(entry)
        self._count_resting()  # once, after the whole journal: it looks at every account's orders
        for book in self.accounts.values():
            self._reconcile_frozen(book)
            for symbol, quote in self.market.quotes.items():
                if quote.traded:
                    book.ledger.mark(symbol, quote.last_price)
        if self.settings.auto_settle and self.trading_day < today:
            self._settle_books(today)
        self._compact()

    def _reconcile_frozen(self, book: AccountBook) -> None:
        """Frozen money and lots are a function of the working orders: rebuild them after a restart.

        The ledger is journaled on fills; freezes and releases between fills are re-derived here.
        """
        active = {order.key: order for order in book.active_orders()}
        for key in book.ledger.pending_keys():
            if key not in active or book.ledger.frozen_volume(key) != active[key].remaining:
                book.ledger.release(key)
        for key, order in active.items():
            if book.ledger.frozen_volume(key) == 0 and order.remaining > 0:
                quote = self.market.quotes[order.spec.symbol]
                price = order.limit_price if not order.is_market else (
                    quote.upper_limit if order.direction == wire.D_BUY else quote.lower_limit
                )
                book.ledger.freeze(key, order.spec, order.direction, order.offset, price, order.remaining)

    def _instrument_table(self, day: date) -> dict[str, InstrumentSpec]:
        if self.settings.market == "full":
            specs = full_market(day, self.settings.full_market_size)
        else:
            specs = builtin_instruments(day)
        return {spec.symbol: spec for spec in specs}

    def _apply_account(self, userid: str, saved: dict[str, Any]) -> None:
        book = self.accounts.get(userid)
        if book is None:
            book = self.accounts[userid] = AccountBook(userid, "", Ledger(userid, 0.0))
        if "password" in saved:  # written in clear before the sim hashed passwords: hashed now, and so compacted
            book.password_hash = hash_password(saved["password"])
        for name in ("password_hash", "confirmed_day", "max_order_ref"):
            if name in saved:
                setattr(book, name, saved[name])
        if "ledger" in saved:
            book.ledger = Ledger.from_state(saved["ledger"])
        for kind, fields in saved.get("stream", ()):
            book.record(kind, fields, self.specs.get(fields.get("InstrumentID", "")))
            self._bump_ids(fields)

    def _apply_entry(self, entry: dict[str, Any]) -> None:
        kind = entry["k"]
        if kind == "session":
            self._ids["session"] = max(self._ids["session"], int(entry["v"]))
            return
        if kind == "quotes":
            if entry.get("d") == self.trading_day:
                self.market.restore_intraday(entry["v"])
            return
        book = self.accounts.get(entry.get("u", ""))
        if book is None:
            return
        if kind == "rtn":
            fields = entry["v"]
            book.record(entry["t"], fields, self.specs.get(fields.get("InstrumentID", "")))
            self._bump_ids(fields)
        elif kind == "ledger":
            book.ledger = Ledger.from_state(entry["v"])
        elif kind == "account":
            self._apply_account(book.userid, entry["v"])

    def _bump_ids(self, fields: dict[str, Any]) -> None:
        for kind, name in _ID_FIELDS.items():
            text = str(fields.get(name, "")).strip()
            if text.isdigit():
                self._ids[kind] = max(self._ids[kind], int(text))

    def _count_resting(self) -> None:
        counts: dict[str, int] = {}
        for other in self.accounts.values():
            for order in other.active_orders():
                counts[order.spec.symbol] = counts.get(order.spec.symbol, 0) + 1
        self.resting = counts
        self._active_dirty = True

    def _compact(self) -> None:
        self._quote_entries = 0
        self.market.touched.clear()  # the snapshot carries every quote's figures
        held = {lot for book in self.accounts.values() for lot in _held_symbols(book)}
        self.journal.compact(
            {
                "trading_day": self.trading_day,
                "ids": self._ids,
                "market": self.market.to_state(),
                "specs": {symbol: asdict(self.specs[symbol]) for symbol in held if symbol in self.specs},
                "accounts": {
                    userid: {
                        "password_hash": book.password_hash,
                        "confirmed_day": book.confirmed_day,
                        "max_order_ref": book.max_order_ref,
                        "ledger": book.ledger.to_state(),
                        "stream": [list(item) for item in book.stream],
                    }
                    for userid, book in self.accounts.items()
                },
            }
        )

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def journal_ledger(self, book: AccountBook) -> None:
        if self.journal.durable:  # serialising the books is the costly part: only when kept
            self.journal.append({"k": "ledger", "u": book.userid, "v": book.ledger.to_state()})

    def journal_account(self, book: AccountBook, **values: Any) -> None:
        self.journal.append({"k": "account", "u": book.userid, "v": values})

    def journal_quotes(self) -> None:
        """Journal the day's figures of every quote that moved since the last entry.

        Stepped (active) instruments and those the lazy walk or set_price moved are written; a
        restart, even after a kill -9, takes them back, so prices and the day's volume go on from
        there instead of starting again from the reference prices. At most QUOTES_EVERY seconds of
        the market are lost; an untouched instrument costs nothing here.
        """
        with self.lock:
            if not self.journal.durable or self._closing:
                return
            market = self.market
            symbols = market.touched | self._active_set
            market.touched = set()
            saved = market.intraday_of(symbols)
            if not saved:
                return
            self.journal.append({"k": "quotes", "d": self.trading_day, "v": saved})
            self._quote_entries += 1
            if self._quote_entries >= COMPACT_AFTER:
                self._compact()

    def live_quote(self, symbol: str) -> Any:
        """The instrument's quote brought to now: in the 7x24 and sessions modes every market is live.

        The clock steps only the instruments someone subscribed or has an order resting on; any
        other one walks lazily here when it is queried, subscribed or traded (MarketSim.catch_up).
        A frozen market (tick_rate 0) and replay are left as they are.
        """
        quote = self.market.quotes.get(symbol)
        settings = self.settings
        if quote is None or settings.tick_rate <= 0 or settings.mode == "replay":
            return quote
        if symbol in self._active_set:  # stepped by the clock in its hours; a blank new day shows the last one
            if quote.traded or settings.mode != "sessions" or _session_start(quote.spec, self.now()) is not None:
                return quote
        mono = monotonic()
        now = self.now()
        if settings.mode == "sessions":
            opened = _session_start(quote.spec, now)
            if opened is None:  # closed: the last session's close, walked through if it was not
                return self._close_session(quote, symbol, mono, now)
            # Only the time the market has been open since its session started counts: breaks and nights do not.
            quote.walked_at = max(quote.walked_at, mono - (now - opened).total_seconds())
        quote = self.market.catch_up(symbol, settings.tick_rate, mono, now)
        self._publish(quote, None, symbol)
        return quote

    def _close_session(self, quote: Any, symbol: str, mono: float, now: datetime) -> Any:
        """Outside its trading hours an instrument shows its last session's state, as a real front does.

        The last session of the current trading day that ended before now is walked from where the
        lazy walk stood to its end, as if the instrument had been looked at just before the close:
        one never walked goes through the whole session (a fresh sim started after the close too),
        one looked at earlier through the rest of it. Its last snapshot is stamped inside the session.
        Before the day's first session (after the day roll, over a weekend) it is the previous trading
        day's close: the quote as it stood at the roll (market.closed), walked through that day's last
        session if it was never walked. A closed market does not move: later looks until the next
        opening walk nothing. Returns the quote shown.
        """
        shown = quote
        session = _last_session(quote.spec, self.trading_day, now)
        if session is None:
            session = _previous_session(quote.spec, self.trading_day, now)
            shown = self.market.closed.get(symbol)
            if shown is None:  # a sim started after the roll: the day before as it settled (nothing traded)
                shown = self.market.closed[symbol] = new_quote(
                    quote.spec, quote.pre_settlement, quote.pre_close, quote.pre_open_interest, quote.grid
                )
        if session is not None:
            self._walk_to_close(shown, symbol, mono, now, session)
        quote.walked_at = max(quote.walked_at, mono)
        return shown

    def _walk_to_close(
        self, quote: Any, symbol: str, mono: float, now: datetime, session: tuple[datetime, datetime]
    ) -> None:
        """Walk `quote` from where it stood to the end of an ended session (see _close_session)."""
        start, end = session
        mono_end = mono - (now - end).total_seconds()  # the session's end and start on the walk's clock
        mono_start = mono_end - (end - start).total_seconds()
        if not quote.traded and quote.walked_at >= mono_end:
            quote.walked_at = mono_start  # never walked and the sim started after the close
        quote.walked_at = max(quote.walked_at, mono_start)
        # The last snapshot falls before the end (half-open sessions): the clock never steps at it.
        rate, target = self.settings.tick_rate, mono_end - CLOSE_MARGIN
        if not quote.traded or int((target - quote.walked_at) * rate) > 0:
            self.market.catch_up(symbol, rate, target, end, quote)
            quote.updated = end - timedelta(seconds=max(CLOSE_MARGIN, mono_end - quote.walked_at))
            if quote is self.market.quotes.get(symbol):
                self._publish(quote, None, symbol)
        quote.walked_at = max(quote.walked_at, mono)

    def live_holdings(self, book: AccountBook) -> None:
        """Walk the instruments an account holds or works orders on to now, so its marks are current.

        A position on an instrument nobody watches is marked at the lazy walk's price when the
        account or its positions are queried, not at whatever price it last had.
        """
        for symbol in _held_symbols(book):
            self.live_quote(symbol)

    def _refresh_active(self) -> None:
        """Recompute what the clock steps; instruments joining are caught up, those leaving walk lazily from now."""
        active = set(self.subscribers) | set(self.resting)
        before = self._active_set
        mono = monotonic()
        for symbol in active - before:  # not in _active_set yet: live_quote walks it to now
            self.live_quote(symbol)
        quotes = self.market.quotes
        for symbol in before - active:
            quote = quotes.get(symbol)
            if quote is not None:
                quote.walked_at = mono
        self._active_set = active
        self._active = sorted(active)
        self._active_dirty = False

    # --- the private flow ---------------------------------------------------------------------
    def push_private(
        self, book: AccountBook, kind: str, fields: dict[str, Any], spec: InstrumentSpec | None = None
    ) -> None:
        """Record an OnRtnOrder / OnRtnTrade message and send it to every session of the account."""
        if kind == "order":
            key = order_key(fields["FrontID"], fields["SessionID"], fields["OrderRef"])
            before = book.orders.get(key)
            was_active = bool(before and before.active)
        book.record(kind, fields, spec)
        if self.journal.durable:
            self.journal.append({"k": "rtn", "u": book.userid, "t": kind, "v": fields})
        if kind == "order":
            after = book.orders[key]
            self._track_resting(after.spec.symbol, was_active, after.active)
        struct = (ORDER if kind == "order" else TRADE)._make(fields)
        callback = "OnRtnOrder" if kind == "order" else "OnRtnTrade"
        for link in list(self.links):
            if link.kind == "td" and link.logged_in and link.userid == book.userid:
                link.post(callback, struct)
                link.delivered += 1

    def _track_resting(self, symbol: str, was_active: bool, now_active: bool) -> None:
        if now_active == was_active:
            return
        self.resting[symbol] = self.resting.get(symbol, 0) + (1 if now_active else -1)
        if self.resting[symbol] <= 0:
            del self.resting[symbol]
        self._active_dirty = True

    # --- requests -----------------------------------------------------------------------------
    def handle(self, link: Link, name: str, values: dict[str, Any], request_id: int) -> int:
        """A trader or market-data Req* call; returns what the real call returns."""
        from backend.sim.requests import TRADER_HANDLERS

        with self.lock:
            if link not in self.links or not link.connected:
                return -1
            with self.batched():
                return TRADER_HANDLERS[name](self, link, values, request_id)

    def market_data(self, link: Link, symbols: list[str], subscribe_on: bool) -> int:
        from backend.sim.requests import subscribe

        with self.lock:
            if link not in self.links or not link.connected:
                return -1
            with self.batched():
                return subscribe(self, link, symbols, subscribe_on)

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Gather the callbacks made inside; hand each link its share in one go at the end."""
        if self.batch is not None:  # already gathering (nested)
            yield
            return
        self.batch = {}
        try:
            yield
        finally:
            batch, self.batch = self.batch, None
            for link, items in batch.items():
                link.thread.post(link.deliver, items)

    def mark_active_dirty(self) -> None:
        self._active_dirty = True

    # --- links --------------------------------------------------------------------------------
    def attach(self, link: Link) -> None:
        with self.lock:
            self.links.add(link)
            if self.unreachable:
                link.storming = True
                self.schedule(0.0, self._storm)
            else:
                self.schedule(0.0, self.connect, link)

    def detach(self, link: Link) -> None:
        with self.lock:
            self.links.discard(link)
            self._drop_subscriptions(link)
            link.connected = False
            link.save_flow()

    def connect(self, link: Link) -> None:
        with self.lock:
            if link not in self.links or link.connected:
                return
            if self.unreachable:
                link.storming = True
                self.schedule(0.0, self._storm)
                return
            link.storming = False
            session_id = self.next_id("session")
            if self.journal.durable:  # SessionIDs never repeat, even across a crash
                self.journal.append({"k": "session", "v": session_id})
            link.reset_session(session_id)
            link.post("OnFrontConnected")

    def disconnect(self, link: Link, reason: int, reconnect_after: float | None) -> None:
        with self.lock:
            if not link.connected:
                return
            link.connected = False
            link.logged_in = False
            self._drop_subscriptions(link)
            link.post("OnFrontDisconnected", reason)
            if reconnect_after is not None:
                self.schedule(reconnect_after, self.connect, link)

    def _drop_subscriptions(self, link: Link) -> None:
        for symbol in link.subscriptions:
            subscribers = self.subscribers.get(symbol)
            if subscribers is not None:
                subscribers.discard(link)
                if not subscribers:
                    del self.subscribers[symbol]
        link.subscriptions.clear()
        self._active_dirty = True

    # --- faults on demand ---------------------------------------------------------------------
    def drop_connections(self, reason: int = wire.REASON_READ_FAILURE, down_for: float = 0.0) -> None:
        """Cut every connection with a CTP reason code; the APIs reconnect after `down_for`."""
        delay = max(down_for, self.settings.reconnect_delay)
        with self.lock:
            for link in list(self.links):
                self.disconnect(link, reason, delay)

    def set_unreachable(self, unreachable: bool) -> None:
        """While unreachable, every API object sees OnFrontDisconnected(4097) in a storm, as CTP does."""
        with self.lock:
            self.unreachable = unreachable
            if unreachable:
                for link in list(self.links):
                    self.disconnect(link, 4097, None)
                    link.storming = True
                self.schedule(0.0, self._storm)
            else:
                for link in list(self.links):
                    if link.storming:
                        self.schedule(self.settings.reconnect_delay, self.connect, link)

    def set_response_delay(self, seconds: float) -> None:
        self.settings = self.settings.replace(response_delay=seconds)

    def _storm(self) -> None:
        with self.lock:
            storming = [link for link in self.links if link.storming]
            if not self.unreachable or not storming:
                return
            burst = max(1, int(self.settings.unreachable_rate * 0.05))
            for link in storming:
                for _ in range(burst):
                    link.post("OnFrontDisconnected", 4097)
            self.schedule(0.05, self._storm)

    # --- market control for tests and demos ---------------------------------------------------
    def set_price(self, symbol: str, price: float) -> None:
        """Print a trade at `price` and rebuild the book around it; resting orders may fill."""
        with self.lock, self.batched():
            quote = self.market.set_price(symbol, price, self.now())
            self._publish(quote)

    def settle(self, new_trading_day: str | None = None) -> str:
        """Run the daily settlement now and start the next trading day; returns it."""
        with self.lock:
            if new_trading_day is None:
                current = date(int(self.trading_day[:4]), int(self.trading_day[4:6]), int(self.trading_day[6:]))
                from backend.sim.calendar import next_business_day

                new_trading_day = _day_text(next_business_day(current))
            self.desk.cancel_day_orders()
            self._settle_books(new_trading_day)
            self._compact()
            for link in list(self.links):
                self.disconnect(link, wire.REASON_READ_FAILURE, self.settings.reconnect_delay)
            return new_trading_day

    def _settle_books(self, new_trading_day: str) -> None:
        prices = self.market.settlement_prices()
        mono = monotonic()
        for symbol in self._active_set:  # the clock stepped these to now: the day ends as they stand
            quote = self.market.quotes.get(symbol)
            if quote is not None:
                quote.walked_at = mono
        for book in self.accounts.values():
            for order in book.active_orders():
                book.ledger.release(order.key)
            book.ledger.settle(prices, new_trading_day)
            book.new_day()
        self.market.roll_day(prices)
        self.trading_day = new_trading_day
        self.resting = {}
        self._active_dirty = True

    # --- the clock thread ---------------------------------------------------------------------
    def schedule(self, delay: float, function: Any, *args: Any) -> None:
        with self.lock:
            heapq.heappush(self._tasks, (monotonic() + delay, next(self._task_order), function, args))
        self._wake.put(None)

    def close(self) -> None:
        with self.lock:
            self._closing = True
            for link in list(self.links):
                link.connected = False
            self.links.clear()
        self._wake.put(None)
        self._stopped.wait(5.0)
        with self.lock:
            # A clean stop keeps the market and the marks too: compacted once the clock has stopped, since
            # its last pass may still move quotes (a newly active instrument's catch-up in _refresh_active).
            self._compact()
            self.journal.close()

    def _run_clock(self) -> None:
        try:
            self._clock_loop()
        finally:
            self._stopped.set()

    def _clock_loop(self) -> None:
        settings = self.settings
        ticking = settings.tick_rate > 0 or settings.mode == "replay"
        period = 1.0 / settings.tick_rate if settings.tick_rate > 0 else 0.05
        slots = max(1, min(50, int(period / 0.01)))
        slot_period = period / slots
        slot = 0
        next_slot = monotonic() if ticking else float("inf")  # tick_rate 0: a frozen market
        next_day_check = monotonic() + 1.0
        next_quotes = monotonic() + QUOTES_EVERY if self.journal.durable else float("inf")
        while not self._closing:
            now = monotonic()
            self._run_due_tasks(now)
            if now >= next_slot:
                self._market_slot(slot, slots)
                slot = (slot + 1) % slots
                next_slot = max(next_slot + slot_period, now - period)
            if now >= next_day_check:
                next_day_check = now + 1.0
                self._check_day_roll()
            if now >= next_quotes:
                next_quotes = now + self._journal_quotes_timed()
            due = min(next_slot, next_day_check, next_quotes, self._tasks[0][0] if self._tasks else next_day_check)
            wait = due - monotonic()
            if wait > 0:
                try:
                    self._wake.get(timeout=wait)
                except Exception:  # noqa: BLE001 - _queue.Empty: the timeout passed
                    pass

    def _journal_quotes_timed(self) -> float:
        """Journal the moved quotes; answers the seconds until the next entry.

        Every QUOTES_EVERY, unless an entry costs more than QUOTES_SHARE of that: with the full market
        subscribed (8,700 instruments), an entry of every quote took about an eighth of the process's
        time (bench/web.py --only full, py-spy), time the engine and the push need, for the sake of
        where prices resume after a kill -9. A big market's entries are then further apart (about every
        6 s there); orders, fills and accounts are journaled as they happen, whatever this says.
        """
        began = time.thread_time()
        self.journal_quotes()
        return max(QUOTES_EVERY, (time.thread_time() - began) / QUOTES_SHARE)

    def _run_due_tasks(self, now: float) -> None:
        while True:
            with self.lock:
                if not self._tasks or self._tasks[0][0] > now:
                    return
                _, _, function, args = heapq.heappop(self._tasks)
            try:
                function(*args)
            except Exception:  # noqa: BLE001 - a task must never stop the clock
                import traceback

                traceback.print_exc()

    def _check_day_roll(self) -> None:
        if not self.settings.auto_settle or self.settings.mode == "replay":
            return
        today = _day_text(trading_day_for(self.now()))
        if today > self.trading_day:
            self.settle(today)

    def _market_slot(self, slot: int, slots: int) -> None:
        """One slot of the market: a snapshot of every active instrument whose turn it is.

        Snapshots are handed to the API threads in chunks, not once per slot: what a slot makes
        would otherwise pile up (thousands of structs) until its end, survive the cyclic GC's young
        collections and make it run full collections over the whole heap again and again. The lock
        is taken per chunk, so a request waits for one chunk at most, not for the whole slot.
        """
        with self.lock:
            if self.settings.mode == "replay":
                self._replay_due()
                return
            if self._active_dirty:
                self._refresh_active()
            symbols = self._active[slot::slots]
            if not symbols:
                return
            now = self.now()
        stamp = stamp_for(now)
        sessions = self.settings.mode == "sessions"
        dating_day, dating = "", {}
        for start in range(0, len(symbols), SLOT_CHUNK):
            with self.lock, self.batched():
                if self._closing:
                    return
                if self.trading_day != dating_day:
                    dating_day, dating = self.trading_day, dating_rows(stamp, self.trading_day)
                specs, step, publish = self.specs, self.market.step, self._publish
                for symbol in symbols[start : start + SLOT_CHUNK]:
                    spec = specs.get(symbol)
                    if spec is None or (sessions and not in_session(spec, now)):
                        continue
                    publish(step(symbol, now), dating, symbol)

    def _publish(self, quote: Any, dating: dict[str, Any] | None = None, symbol: str = "") -> None:
        symbol = symbol or quote.spec.symbol
        last = quote.last_price
        for book in self.accounts.values():
            book.ledger.mark(symbol, last)
        subscribers = self.subscribers.get(symbol)
        if subscribers:
            moment = quote.updated or self.now()
            struct = depth_struct(quote, moment, self.trading_day, self.settings.tick_exchange_id, None, dating)
            for link in subscribers:
                link.post_tick(struct)
        if symbol in self.resting:
            self.desk.match_resting(quote)

    def _replay_due(self) -> None:
        if self._replay is None:
            if not self.subscribers:
                return  # the recording starts playing when the first client subscribes
            self._replay = _Replay(self.settings)
        for row in self._replay.due(monotonic()):
            symbol = row.get("InstrumentID", "")
            if symbol in self.market.quotes:
                self._publish(self.market.apply_row(symbol, row, self.now()))


class _Replay:
    """Plays a recorded CSV at its own pace (scaled by replay_speed), looping if asked."""

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.rows = list(read_replay(settings.replay_csv))
        self.index = 0
        self.started = monotonic()
        self.first = _seconds(self.rows[0]) if self.rows else 0.0

    def due(self, now: float) -> list[dict[str, str]]:
        rows = []
        while self.index < len(self.rows):
            row = self.rows[self.index]
            offset = _seconds(row) - self.first
            if offset < 0:
                offset += 86_400
            if self.settings.replay_speed > 0 and self.started + offset / self.settings.replay_speed > now:
                break
            rows.append(row)
            self.index += 1
            if len(rows) >= 5_000:
                break
        if self.index >= len(self.rows) and self.settings.replay_loop and self.rows:
            self.index = 0
            self.started = now
        return rows


def _seconds(row: dict[str, str]) -> float:
    hours, minutes, seconds = (int(part) for part in row["UpdateTime"].split(":"))
    return hours * 3600 + minutes * 60 + seconds + int(row.get("UpdateMillisec") or 0) / 1000


def _session_start(spec: InstrumentSpec, moment: datetime) -> datetime | None:
    """The start of the session `moment` lies in, or None outside the instrument's trading hours."""
    for start, end in session_bounds(spec, trading_day_for(moment)):
        if start <= moment < end:
            return start
    return None


def _last_session(spec: InstrumentSpec, trading_day: str, moment: datetime) -> tuple[datetime, datetime] | None:
    """The last session of `trading_day` that ended at or before `moment`, or None (none has yet)."""
    ended = [bounds for bounds in session_bounds(spec, _day_of(trading_day)) if bounds[1] <= moment]
    return ended[-1] if ended else None


def _previous_session(spec: InstrumentSpec, trading_day: str, moment: datetime) -> tuple[datetime, datetime] | None:
    """The last session of the business days before `trading_day` that ended at or before `moment`."""
    day = _day_of(trading_day)
    for _ in range(3):
        day = previous_business_day(day)
        ended = [bounds for bounds in session_bounds(spec, day) if bounds[1] <= moment]
        if ended:
            return ended[-1]
    return None


def _day_of(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _held_symbols(book: AccountBook) -> set[str]:
    return {row.symbol for row in book.ledger.positions(book.ledger.trading_day)} | {
        order.spec.symbol for order in book.active_orders()
    }
