"""Recording every LLM call of an OpenAI or Anthropic client.

The client is changed in place, per instance: the ``_post`` of its
chat-completions, completions, responses and messages resources is wrapped.
That single point sees ``create``, ``parse`` and the ``stream`` helpers
alike; everything else (other endpoints, ``count_tokens``, batches) passes
straight through. Results, streams and exceptions are the client's own.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import _extract, _streams
from ._log import logger
from ._session import Overrides, Session, current_session

_C = TypeVar("_C")

_OPENAI_RESOURCES = (
    (("chat", "completions"), ("/chat/completions",)),
    (("completions",), ("/completions",)),
    (("responses",), ("/responses",)),
    (("beta", "chat", "completions"), ("/chat/completions",)),
)
_ANTHROPIC_RESOURCES = (
    (("messages",), ("/v1/messages",)),
    (("beta", "messages"), ("/v1/messages",)),
)
_MARK = "_agentpulse_original"


def _provider_of(client: Any) -> str | None:
    for cls in type(client).__mro__:
        root = cls.__module__.split(".", 1)[0]
        if root in (_extract.OPENAI, _extract.ANTHROPIC):
            return root
    return None


def instrument(client: _C) -> _C:
    """Record every LLM call of ``client`` to the active session, and return the client.

    Works with ``OpenAI``, ``AsyncOpenAI`` (and Azure's), ``Anthropic`` and
    ``AsyncAnthropic`` (and Bedrock's and Vertex's). The client keeps its type
    and behaves exactly as before: same results, same streams, same
    exceptions. Calls made while no session is active are not recorded.
    Instrumenting twice is harmless; ``with_options()`` copies are
    instrumented too.
    """
    try:
        provider = _provider_of(client)
        if provider is None:
            logger.error(
                "agentpulse.instrument() takes an OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic "
                "client, got a %s; it was left as it is",
                type(client).__name__,
            )
            return client
        table = _OPENAI_RESOURCES if provider == _extract.OPENAI else _ANTHROPIC_RESOURCES
        wrapped = 0
        for attrs, paths in table:
            resource = _resolve(client, attrs)
            if resource is not None and _wrap_post(resource, provider, paths):
                wrapped += 1
        _wrap_copy(client)
        logger.debug("instrumented a %s client (%d resources)", type(client).__name__, wrapped)
    except Exception as exc:
        logger.error("agentpulse.instrument() failed, the client is unchanged: %s: %s", type(exc).__name__, exc)
    return client


def _resolve(obj: Any, attrs: tuple[str, ...]) -> Any:
    for name in attrs:
        try:
            obj = getattr(obj, name)
        except Exception:  # missing in this version of the package
            return None
    return obj if hasattr(obj, "_post") else None


def _wrap_copy(client: Any) -> None:
    original = getattr(client, "copy", None)
    if original is None or hasattr(original, _MARK):
        return

    @functools.wraps(original)
    def copy(*args: Any, **kwargs: Any) -> Any:
        return instrument(original(*args, **kwargs))

    setattr(copy, _MARK, original)
    client.copy = copy
    client.with_options = copy


def _matches(path: Any, paths: tuple[str, ...]) -> bool:
    if not isinstance(path, str):
        return False
    return path.split("?", 1)[0] in paths


def _model_of(kwargs: Mapping[str, Any]) -> str | None:
    body = kwargs.get("body")
    model = body.get("model") if isinstance(body, Mapping) else None
    return model if isinstance(model, str) and model else None


def _wrap_post(resource: Any, provider: str, paths: tuple[str, ...]) -> bool:
    original: Callable[..., Any] = resource._post
    if hasattr(original, _MARK):
        return False
    if inspect.iscoroutinefunction(original):

        async def apost(path: Any, *args: Any, **kwargs: Any) -> Any:
            session = current_session() if _matches(path, paths) else None
            if session is None:
                return await original(path, *args, **kwargs)
            started = time.monotonic()
            try:
                result = await original(path, *args, **kwargs)
            except Exception as exc:
                _record_error(session, provider, _model_of(kwargs), exc, started)
                raise
            _record_result(session, provider, _model_of(kwargs), result, started)
            return result

        wrapper: Callable[..., Any] = apost
    else:

        def post(path: Any, *args: Any, **kwargs: Any) -> Any:
            session = current_session() if _matches(path, paths) else None
            if session is None:
                return original(path, *args, **kwargs)
            started = time.monotonic()
            try:
                result = original(path, *args, **kwargs)
            except Exception as exc:
                _record_error(session, provider, _model_of(kwargs), exc, started)
                raise
            _record_result(session, provider, _model_of(kwargs), result, started)
            return result

        wrapper = post
    setattr(wrapper, _MARK, original)
    resource._post = wrapper
    return True


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record_error(session: Session, provider: str, model: str | None, exc: BaseException, started: float) -> None:
    info = _extract.CallInfo(model=model, provider=provider).failed(exc)
    _record(session, info, _elapsed_ms(started))


def _record_result(session: Session, provider: str, model: str | None, result: Any, started: float) -> None:
    try:
        if _streams.is_stream(result):

            def done(acc: _extract.StreamAccumulator, exc: BaseException | None, ms: float) -> None:
                info = acc.info
                info.model = info.model or model
                info.provider = provider
                if exc is not None:
                    info.failed(exc)
                _record(session, info, round(ms))

            _streams.observe(result, provider, done, started)
            return
        info = _extract.extract(result)
        if info is None:
            info = _extract.extract(_raw_body(result)) or _extract.CallInfo()
        info.model = info.model or model
        info.provider = provider
        _record(session, info, _elapsed_ms(started))
    except Exception as exc:
        logger.error("failed to record an LLM call: %s: %s", type(exc).__name__, exc)


def _raw_body(result: Any) -> Any:
    """The JSON body of a ``with_raw_response`` result, when it was already read."""
    http = getattr(result, "http_response", None)
    if http is None:
        return None
    try:
        return json.loads(http.content)
    except Exception:  # not read yet (streaming response) or not JSON
        return None


def _record(session: Session, info: _extract.CallInfo, duration_ms: int) -> None:
    session._safe_record_llm(info, Overrides(duration_ms=duration_ms))
