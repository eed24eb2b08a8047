"""The bridge under a burst from several real OS threads in a gevent-patched process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from gevent import monkey
monkey.patch_all()
import json, gevent
from gevent.event import Event
from backend.bridge import Bridge
from lib.native import start_new_thread, get_ident

THREADS, EACH = 6, 20000
received, done = [], Event()
consumer_threads = set()

def consume(item):
    consumer_threads.add(get_ident())
    received.append(item)
    if len(received) == THREADS * EACH:
        done.set()

bridge = Bridge(consume)
producer_threads = []

def produce(number):
    producer_threads.append(get_ident())
    for seq in range(EACH):
        bridge.put((number, seq))

for number in range(THREADS):
    start_new_thread(produce, (number,))
finished = done.wait(timeout=60)
# A greenlet keeps running while producers work: the loop is not blocked by the hand-off.
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(1) or gevent.idle() for _ in range(20)])
ticker.join(timeout=5)
per_thread = {}
in_order = True
for number, seq in received:
    if per_thread.get(number, -1) + 1 != seq:
        in_order = False
    per_thread[number] = seq
bridge.close()
print(json.dumps({
    "finished": finished, "count": len(received), "in_order": in_order,
    "complete": all(per_thread.get(n) == EACH - 1 for n in range(THREADS)),
    "consumer_on_main": consumer_threads == {get_ident()},
    "producers_native": get_ident() not in producer_threads and len(set(producer_threads)) == THREADS,
    "ticks": len(ticks),
}))
"""


def run_script(script: str) -> dict:
    """Run a script in a fresh (monkey-patched) interpreter; its last line of output is a JSON result."""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finished"], result
    return result


def test_burst_from_native_threads_arrives_complete_and_in_order_on_the_loop():
    result = run_script(SCRIPT)
    assert result["count"] == 6 * 20000
    assert result["in_order"] and result["complete"]
    assert result["consumer_on_main"], "events must be applied on the loop's thread"
    assert result["producers_native"], "producers were real OS threads"
    assert result["ticks"] == 20


MERGING = r"""
from gevent import monkey
monkey.patch_all()
import json, time
from gevent.event import Event
from backend.bridge import Bridge
from lib.native import start_new_thread

KEYS, ROUNDS, LIMIT = 50, 400, 300  # 20,000 ticks and 400 orders from one native thread, a slow consumer
ticks, orders, done, most = [], [], Event(), [0]

def consume(item):
    kind, key, seq = item
    (orders if kind == "order" else ticks).append((key, seq))
    most[0] = max(most[0], bridge.backlog)
    end = time.perf_counter() + 20e-6  # slower than the producer: a backlog forms
    while time.perf_counter() < end:
        pass
    if kind == "order" and seq == ROUNDS - 1:
        done.set()

bridge = Bridge(consume, merge_key=lambda item: item[1], conflate_at=LIMIT)

def produce():
    for seq in range(ROUNDS):
        for key in range(KEYS):
            bridge.put_latest(("tick", key, seq))
        bridge.put(("order", -1, seq))

start_new_thread(produce, ())
finished = done.wait(timeout=60)
last = {}
backwards = 0
for key, seq in ticks:
    backwards += seq <= last.get(key, -1)
    last[key] = seq
print(json.dumps({
    "finished": finished, "ticks": len(ticks), "merged": bridge.merged, "backwards": backwards,
    "newest_kept": all(last.get(key) == ROUNDS - 1 for key in range(KEYS)),
    "orders_whole": [seq for _, seq in orders] == list(range(ROUNDS)), "most_waiting": most[0],
}))
bridge.close()
"""


def test_under_a_backlog_ticks_are_merged_per_instrument_and_orders_never():
    result = run_script(MERGING)
    assert result["orders_whole"], "every order event arrives, in order"
    assert result["merged"] > 0, result
    assert result["ticks"] + result["merged"] == 50 * 400, "every tick is either applied or merged into a newer one"
    assert result["backwards"] == 0, "an instrument's ticks never go backwards"
    assert result["newest_kept"], "the newest tick of every instrument is applied"
    assert result["most_waiting"] <= 300 + 50 + 400 + 1, "the queue stays bounded"
