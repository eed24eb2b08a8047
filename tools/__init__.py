"""Developer tools; a package so tests can reuse the probes in gen_ctp_spec."""
