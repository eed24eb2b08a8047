"""Engine exceptions -> API errors with their HTTP status, in one table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from backend.engine.engine import CancelFailed, NotConnected, OrderFinished
from backend.engine.oms import UnknownInstrument, UnknownOrder
from backend.engine.risk import OrderRefused
from views.envelope import ApiError

CANCEL_STATUS = {25: 404, 26: 409}


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except NotConnected as error:
        raise ApiError(str(error), 503) from None
    except UnknownInstrument as error:
        raise ApiError(f"unknown instrument {error.args[0]}", 404) from None
    except UnknownOrder as error:
        raise ApiError(f"unknown order {error.args[0]}", 404) from None
    except OrderFinished as error:
        raise ApiError(str(error), 409) from None
    except CancelFailed as error:
        raise ApiError(f"cancel refused {error.error_id}: {error}", CANCEL_STATUS.get(error.error_id, 409)) from None
    except OrderRefused as error:
        raise ApiError(f"{error.field}: {error}" if error.field else str(error), 400) from None
