"""Issue 16: attempts at a secret counted before the check, hashes off the event loop, token claims and revocation.

The limiter (auth/attempts.py) runs on a clock the test moves; the access code and the tokens run over a real
SQLite store in a temporary directory.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
import pytest
from werkzeug.security import generate_password_hash

from auth.access import HASH_KEY, AccessCode
from auth.attempts import Attempts, TooManyAttempts
from auth.tokens import TokenError, Tokens, check_claims
from model import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(clock: Clock, **kwargs: Any) -> Attempts:
    return Attempts(clock=clock, **{"per_window": 10, "in_flight": 100, "window": 60.0, **kwargs})


# --- the limit ---------------------------------------------------------------------------------------
def test_an_attempt_counts_from_its_start_not_from_its_answer(clock: Clock) -> None:
    attempts = limiter(clock)
    started = [attempts.begin("a") for _ in range(10)]  # none has an answer yet
    with pytest.raises(TooManyAttempts) as refused:
        attempts.begin("a")
    assert refused.value.retry_after == 60 and "too many attempts" in refused.value.message
    for attempt in started:
        attempt.end()
    with pytest.raises(TooManyAttempts):  # ended, not succeeded: still counted
        attempts.begin("a")
    attempts.begin("b").end()  # another address is not concerned


def test_the_window_slides_and_retry_after_says_when(clock: Clock) -> None:
    attempts = limiter(clock)
    for second in range(10):
        clock.now = 1000.0 + second
        attempts.begin("a").end()
    clock.now = 1030.5
    with pytest.raises(TooManyAttempts) as refused:
        attempts.begin("a")
    assert refused.value.retry_after == 30  # the first attempt leaves the window at 1060
    clock.now = 1060.0
    attempts.begin("a").end()  # one place free again ...
    with pytest.raises(TooManyAttempts):
        attempts.begin("a")  # ... and only one


def test_a_successful_attempt_gives_its_place_back(clock: Clock) -> None:
    attempts = limiter(clock)
    for _ in range(50):
        with attempts.begin("a") as attempt:
            attempt.succeeded()
    for _ in range(10):
        attempts.begin("a").end()
    with pytest.raises(TooManyAttempts):
        attempts.begin("a")


def test_attempts_in_flight_are_capped_per_address(clock: Clock) -> None:
    attempts = limiter(clock, in_flight=2)
    first, second = attempts.begin("a"), attempts.begin("a")
    with pytest.raises(TooManyAttempts) as refused:
        attempts.begin("a")
    assert refused.value.retry_after == 1 and "still being checked" in refused.value.message
    attempts.begin("b").end()
    first.end()
    first.end()  # ending twice lands once
    attempts.begin("a").end()
    with pytest.raises(TooManyAttempts):
        with attempts.begin("a"):
            attempts.begin("a")  # `second` and this one are in flight
    second.end()


def test_a_refusal_counts_nothing(clock: Clock) -> None:
    attempts = limiter(clock, in_flight=1)
    held = attempts.begin("a")
    for _ in range(100):
        with pytest.raises(TooManyAttempts):
            attempts.begin("a")
    held.end()
    for _ in range(9):
        attempts.begin("a").end()


def test_concurrent_threads_get_at_most_the_limit(clock: Clock) -> None:
    attempts = limiter(clock, in_flight=1000)
    barrier = threading.Barrier(40)
    admitted: list[int] = []

    def try_once() -> None:
        barrier.wait(5)
        try:
            attempts.begin("a")
            admitted.append(1)
        except TooManyAttempts:
            pass

    threads = [threading.Thread(target=try_once) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(admitted) == 10


def test_memory_stays_bounded_over_many_addresses(clock: Clock) -> None:
    attempts = limiter(clock, max_addresses=100)
    kept = attempts.begin("in-flight")
    for n in range(1000):
        attempts.begin(f"10.0.{n // 256}.{n % 256}").end()
    assert len(attempts._counted) <= 100
    assert "in-flight" in attempts._counted  # an address being checked is never forgotten
    kept.end()


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        Attempts(per_window=0)
    with pytest.raises(ValueError):
        Attempts(in_flight=0)


# --- the hash, off the loop --------------------------------------------------------------------------
SLOW = 7_000_000  # pbkdf2 rounds: about 1.5 s a hash here
def test_checking_the_code_leaves_the_event_loop_free(tmp_path: Path) -> None:
    access = AccessCode(open_store(tmp_path))
    started = time.perf_counter()
    # A hash of an older release's kind, slow on purpose (about 1.5 s): a loop that hashes stalls for that
    # long, a stall of the machine running the suite (a collection, another process) does not
    access.store.set_value(HASH_KEY, generate_password_hash("a-configured-code", method=f"pbkdf2:sha256:{SLOW}"))
    one_hash = time.perf_counter() - started  # the baseline: what a check would stall the loop for
    gaps: list[float] = []
    checking = True

    started = gevent.event.Event()

    def tick() -> None:
        started.set()
        last = time.perf_counter()
        while checking or not gaps:
            gevent.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = gevent.spawn(tick)
    assert started.wait(5)  # the ticker runs before the checks start
    checks = [gevent.spawn(access.verify, code) for code in ("wrong-1", "a-configured-code")]
    gevent.joinall(checks, timeout=10, raise_error=True)
    checking = False
    ticker.join(timeout=5)  # its last gap spans the checks if they blocked the loop
    assert [check.value for check in checks] == [False, True]
    print(f"one hash {one_hash * 1000:.0f} ms; the loop's longest gap while two ran {max(gaps) * 1000:.0f} ms")
    # on the loop, the longest gap is at least one whole hash (two, back to back, when neither yields)
    assert max(gaps) < one_hash * 0.75, f"the loop stalled {max(gaps):.3f}s while hashing (one: {one_hash:.3f}s)"


def test_a_code_stored_by_an_older_release_still_verifies(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.set_value(HASH_KEY, generate_password_hash("older-code-1", method="pbkdf2:sha256"))
    access = AccessCode(store)
    assert access.verify("older-code-1") and not access.verify("older-code-2")
    assert access.ensure("older-code-1") is None  # configured as before: applied, not replaced
    assert access.verify("older-code-1")


# --- token claims and revocation -------------------------------------------------------------------
def claims(**changes: Any) -> dict[str, Any]:
    now = time.time()
    made = {"sub": "demo", "jti": str(uuid.uuid4()), "type": "access", "fresh": False, "iat": int(now),
            "nbf": int(now), "exp": int(now) + 600, "issued": now}  # fmt: skip
    made.update(changes)
    return made


@pytest.mark.parametrize(
    "spoil",
    [{"issued": "1700000000"}, {"issued": [1]}, {"issued": None}, {"issued": True}, {"issued": math.nan},
     {"issued": math.inf}, {"jti": None}, {"jti": 7}, {"jti": ""}, {"sub": 7}, {"sub": ["demo"]}, {"sub": ""},
     {"type": "refresh"}, {"exp": None}, {"exp": "later"}, {"exp": math.nan}, {"issued": 10**400},
     {"exp": 10**400}],
)  # fmt: skip
def test_claims_of_the_wrong_shape_are_token_errors(tmp_path: Path, spoil: dict[str, Any]) -> None:
    bad = claims(**spoil)
    with pytest.raises(TokenError):
        check_claims(bad)
    with pytest.raises(TokenError):  # the socket guard asks this one directly
        Tokens(open_store(tmp_path)).revoked(bad)


def test_claims_as_issued_pass(tmp_path: Path) -> None:
    check_claims(claims())
    check_claims(claims(issued=int(time.time())))
    assert not Tokens(open_store(tmp_path)).revoked(claims())


def test_revoking_all_but_one_keeps_only_that_one_until_the_next_revocation(tmp_path: Path) -> None:
    tokens = Tokens(open_store(tmp_path))
    mine, theirs = claims(), claims()
    tokens.revoke_all(keep=mine)
    assert not tokens.revoked(mine) and tokens.revoked(theirs)
    later = claims(issued=time.time() + 1)
    assert not tokens.revoked(later)
    again = Tokens(open_store(tmp_path))  # as after a restart
    assert not again.revoked(mine) and again.revoked(theirs)
    tokens.revoke(mine)  # a kept token can still be revoked one by one
    assert tokens.revoked(mine)
    other_kept = claims()
    tokens.revoke_all(keep=other_kept)
    assert not tokens.revoked(other_kept)
    tokens.revoke_all()  # a logout keeps nobody
    assert tokens.revoked(other_kept)
