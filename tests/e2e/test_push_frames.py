"""Big pushes reach a slow reader whole: every websocket frame the server writes arrives intact.

A batch socket watching the whole market gets one `ticks` message per flush: megabytes with the full
market (SIM_MARKET full), more than a socket's buffers hold. When the client reads slowly, the kernel takes such a frame
in parts; the server must write the rest too (simple-websocket's own send wrote only the first part,
after which the client read garbage and the connection died: views/websocket.py).
"""

from __future__ import annotations

import json
import socket
import time

import pytest
import websocket

from tests.e2e.conftest import Desk, ServerFactory, pause

pytestmark = pytest.mark.slow


def test_slow_readers_get_every_batch_of_the_whole_market_intact(server_factory: ServerFactory):
    desk = Desk(server_factory(SIM_MARKET="full", SIM_TICK_RATE=0.5, TICK_PUSH_INTERVAL=1.0))
    names = sorted(item["local_symbol"] for item in desk.api.get("/contract").json()["data"])
    assert len(names) > 5000
    for start in range(0, len(names), 2000):
        assert desk.api.post("/market", json={"symbols": names[start : start + 2000]}).json()["success"]
    readers = [batch_reader(desk) for _ in range(2)]  # two: the frame of a batch is shared between sockets
    try:
        pause(3.0)  # read nothing: the server's writes meet full socket buffers (at most 4 MiB here)
        for ws in readers:
            # Ticks go out at once (issue 17), so the batches queued before the socket was busy are
            # small; the one it gets when it drains holds every instrument changed meanwhile.
            # The small ones filled the kernel's buffers first: read (each checked whole) up to the big one.
            batches: list[int] = []
            largest = 0
            while len(batches) < 300 and not (batches and max(batches) > 2000):
                more, size = read_batches(ws, set(names), 1)
                assert more, f"the stream stopped after {len(batches)} batches"
                batches += more
                largest = max(largest, size)
            assert max(batches) > 2000 and largest > 1024 * 1024  # big enough to need several writes
            more, _ = read_batches(ws, set(names), 2)  # and the stream goes on intact after it
            assert len(more) == 2
    finally:
        for ws in readers:
            ws.close()


def batch_reader(desk: Desk) -> websocket.WebSocket:
    """A raw Socket.IO client with a small receive buffer, authenticated, taking `ticks` batches."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{desk.server.port}/socket.io/?EIO=4&transport=websocket",
        timeout=10, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
    )  # fmt: skip
    assert ws.recv().startswith("0")  # engine.io open
    ws.send("40" + json.dumps({"token": desk.token}))
    while not ws.recv().startswith("40"):
        pass
    ws.send('42["watch",{"batch":true}]')
    return ws


def read_batches(ws: websocket.WebSocket, names: set[str], count: int) -> tuple[list[int], int]:
    """The sizes (ticks) of the next `count` batches, and the largest frame's bytes; fails on a broken stream."""
    batches: list[int] = []
    largest = 0
    deadline = time.monotonic() + 30
    while len(batches) < count and time.monotonic() < deadline:
        try:
            opcode, frame = ws.recv_data()
        except (websocket.WebSocketException, ValueError) as error:  # a cut frame: the rest reads as garbage
            pytest.fail(f"the stream broke after {len(batches)} batches: {str(error)[:300]}")
        assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, frame[:80])
        text = frame.decode("utf-8")
        if text == "2":  # engine.io ping
            ws.send("3")
            continue
        assert text.startswith("42["), text[:80]
        name, data = json.loads(text[2:])
        if name == "ticks":
            assert {tick["local_symbol"] for tick in data["data"]} <= names
            batches.append(len(data["data"]))
            largest = max(largest, len(frame))
    return batches, largest
