"""Logging of the SDK and the guard that keeps its failures out of the host."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

logger = logging.getLogger("agentpulse")

_P = ParamSpec("_P")
_R = TypeVar("_R")

_debug = False
_debug_handler: logging.Handler | None = None


def set_debug(enabled: bool) -> None:
    """Turn debug logging on or off for the ``agentpulse`` logger."""
    global _debug, _debug_handler
    _debug = enabled
    if enabled:
        logger.setLevel(logging.DEBUG)
        if _debug_handler is None and not logger.handlers:
            _debug_handler = logging.StreamHandler(sys.stderr)
            _debug_handler.setFormatter(logging.Formatter("%(asctime)s agentpulse %(levelname)s %(message)s"))
            logger.addHandler(_debug_handler)
    else:
        logger.setLevel(logging.NOTSET)
        if _debug_handler is not None:
            logger.removeHandler(_debug_handler)
            _debug_handler = None


def debug_enabled() -> bool:
    return _debug


def report(what: str, exc: BaseException | None = None, hint: str | None = None) -> None:
    """Log a failure of the SDK itself.

    The one-line reason is always logged; with ``debug=True`` the hint and the
    traceback follow it.
    """
    reason = f"{what}: {type(exc).__name__}: {exc}" if exc is not None else what
    if _debug:
        if hint:
            reason = f"{reason}. {hint}"
        logger.error(reason, exc_info=exc)
    else:
        logger.error(reason)


class InvalidArgumentError(ValueError):
    """A call of the public API with a value it cannot record."""


def guarded(default: Any = None) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Wrap a public entry point so that no exception of the SDK reaches the caller."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def inner(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except InvalidArgumentError as exc:
                logger.error("agentpulse %s: %s; nothing was recorded", fn.__qualname__, exc)
                return default  # type: ignore[no-any-return]
            except Exception as exc:
                report(
                    f"agentpulse.{fn.__qualname__} failed and was skipped",
                    exc,
                    "The application goes on; the event was not recorded.",
                )
                return default  # type: ignore[no-any-return]

        return inner

    return wrap
