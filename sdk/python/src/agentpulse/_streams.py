"""Observing a provider's stream without changing what the caller gets.

The ``Stream`` and ``AsyncStream`` classes of the ``openai`` and ``anthropic``
packages (and their helper streams) iterate over a private ``_iterator``.
Replacing it with a generator that yields the same items, in the same order,
and records the call when the stream ends (exhausted, closed, failed or
garbage-collected) keeps the object, its type and its behaviour intact.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ._extract import StreamAccumulator
from ._log import logger

Done = Callable[[StreamAccumulator, BaseException | None, float], None]


class _Once:
    def __init__(self, done: Done, started: float) -> None:
        self._done: Done | None = done
        self._started = started

    def __call__(self, acc: StreamAccumulator, error: BaseException | None) -> None:
        done, self._done = self._done, None
        if done is None:
            return
        duration_ms = (time.monotonic() - self._started) * 1000
        try:
            done(acc, error, duration_ms)
        except Exception as exc:
            logger.error("failed to record a streamed LLM call: %s: %s", type(exc).__name__, exc)


def _add(acc: StreamAccumulator, item: Any) -> None:
    try:
        acc.add(item)
    except Exception as exc:  # an odd item must never break the caller's stream
        logger.debug("could not read a stream item: %s: %s", type(exc).__name__, exc)


def _sync(it: Iterator[Any], acc: StreamAccumulator, once: _Once) -> Iterator[Any]:
    error: BaseException | None = None
    try:
        for item in it:
            _add(acc, item)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        close = getattr(it, "close", None)
        if close is not None and error is None:
            try:
                close()
            except Exception:
                logger.debug("closing the provider's stream failed", exc_info=True)
        once(acc, error)


async def _async(it: AsyncIterator[Any], acc: StreamAccumulator, once: _Once) -> AsyncIterator[Any]:
    error: BaseException | None = None
    try:
        async for item in it:
            _add(acc, item)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None and error is None:
            try:
                await aclose()
            except Exception:
                logger.debug("closing the provider's stream failed", exc_info=True)
        once(acc, error)


def observe(stream: Any, provider: str | None, done: Done, started: float | None = None) -> bool:
    """Make ``stream`` call ``done`` when it ends; False when it cannot be observed."""
    it = getattr(stream, "_iterator", None)
    if it is None:
        return False
    acc = StreamAccumulator(provider)
    once = _Once(done, time.monotonic() if started is None else started)
    if hasattr(it, "__anext__"):
        stream._iterator = _async(it, acc, once)
        return True
    if hasattr(it, "__next__"):
        stream._iterator = _sync(it, acc, once)
        return True
    return False


def is_stream(obj: Any) -> bool:
    """A provider stream object whose items can be observed."""
    it = getattr(obj, "_iterator", None)
    return it is not None and (hasattr(it, "__next__") or hasattr(it, "__anext__"))
