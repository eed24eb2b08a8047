"""Strategy code tools: /check_code (pylint) and /run_code (a sandboxed snippet).

Both run a child process. They are called straight from the request's greenlet, not through the
hub's threadpool: under the server's monkey-patching `subprocess` is gevent's, whose child watchers
only work on the main loop (from a pool thread Popen raises TypeError), and every wait in lib.lint
and lib.sandbox (the pipe, the process, the semaphore) is then cooperative, so the loop keeps
serving other requests meanwhile.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from pathlib import Path

from flask import Blueprint

from backend import strategy
from lib.lint import LintBusy, LintMemory, LintTimeout, lint
from lib.sandbox import SandboxBusy, run_snippet
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.params import parse
from views.schemas import CodeRequest

blueprint = Blueprint("code_tools", __name__)
BUSY = "busy: try again"


@cache
def strategy_api() -> dict[str, str]:
    """The strategy base class, importable in the sandbox as in a worker (`from backend.strategy import
    Strategy`), so a strategy file can be tried there before it is started."""
    return {"backend/__init__.py": "", "backend/strategy.py": Path(strategy.__file__).read_text(encoding="utf-8")}


@blueprint.post("/check_code")
@token_required
def check_code():
    request = parse(CodeRequest)
    try:
        messages = lint(request.text, memory_mb=desk().settings.LINT_MEMORY_MB)
    except LintBusy:
        raise ApiError(BUSY, 429) from None
    except LintMemory as error:  # e.g. `(0,) * 10**8`, which astroid folds into a hundred million items
        raise ApiError(f"{error}: pylint folds constant expressions such as (0,) * 10**8 in full; "
                       "make them smaller or compute them at run time", 422) from None
    except LintTimeout as error:
        raise ApiError(f"check timed out: {error}", 503) from None
    return envelope([asdict(message) for message in messages])


@blueprint.post("/run_code")
@token_required
def run_code():
    request = parse(CodeRequest)
    try:
        result = run_snippet(request.text, library=strategy_api())
    except SandboxBusy:
        raise ApiError(BUSY, 429) from None
    return envelope(asdict(result))
