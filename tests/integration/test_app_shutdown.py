"""shutdown(app) stops everything the app started on the event loop.

The push's flusher and guard and the handshake sweeper ran on after their app was shut down: each
held the engine, its contracts and the store, and the guard, finding a socket left open, read the
closed store every second (StoreError in the log). A server shuts down once, at exit; the suite
builds hundreds of apps in one process, and every one left behind was more for the collector to
walk on every full collection, a stall in whichever timing test ran then.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import gevent
from greenlet import greenlet

from backend import sim
from backend.app import create_app, shutdown
from lib.config import load_settings


def running() -> set[greenlet]:
    """The greenlets of this thread's loop that have started and not ended."""
    return {item for item in gc.get_objects() if isinstance(item, gevent.Greenlet) and item and not item.dead}


def test_shutdown_leaves_no_greenlet_of_the_app_running(tmp_path: Path):
    before = running()
    name = f"shutdown{os.getpid()}"
    app = create_app(load_settings(None, environ={}, DATA_DIR=str(tmp_path), ACCESS_CODE="shutdown-code-1",
                                   SIM_NAME=name, SIM_QUERY_RATE=0, TICK_PUSH_INTERVAL=0.05))  # fmt: skip
    started = running() - before
    assert started, "the app started nothing on the loop: this test would see nothing"
    shutdown(app)
    sim.shutdown(name)
    gevent.joinall(list(started), timeout=5)  # what was ended is gone at its next switch; the rest runs on
    left = running() & started
    assert not left, [getattr(item, "_run", item) for item in left]
