"""Model and token counts from provider responses, final or streamed.

Objects are read by shape, not by class, so the pydantic models of the
``openai`` and ``anthropic`` packages, their ``model_dump()`` dicts and raw
JSON all work. Counts are normalized as the API contract says:
``input_tokens`` includes cached and cache-creation tokens, ``output_tokens``
includes reasoning tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass(slots=True)
class CallInfo:
    """What one LLM call reported about itself."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    status: str = "ok"
    error: str | None = None
    refused: bool = False  # the provider answered with an HTTP error and reported no usage

    @property
    def has_usage(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def failed(self, exc: BaseException) -> CallInfo:
        """Mark the call as failed with ``exc``; returns self."""
        self.status = "error"
        self.error = error_text(exc)
        self.refused = isinstance(getattr(exc, "status_code", None), int) and not self.has_usage
        return self


def error_text(exc: BaseException) -> str:
    """An error's class and HTTP status, never its message (it may quote content)."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    return f"{name} (status {status})" if isinstance(status, int) else name


def get(obj: Any, key: str) -> Any:
    """Read a field of a model object or a mapping; None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def count(value: Any) -> int | None:
    """A token count as a non-negative int, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _zero(value: int | None) -> int:
    return value or 0


# Usage objects.


def openai_chat_usage(info: CallInfo, usage: Any) -> None:
    """Chat Completions (and legacy Completions): prompt_tokens include cached ones."""
    info.input_tokens = count(get(usage, "prompt_tokens"))
    info.output_tokens = count(get(usage, "completion_tokens"))
    prompt = get(usage, "prompt_tokens_details")
    completion = get(usage, "completion_tokens_details")
    info.cached_input_tokens = _zero(count(get(prompt, "cached_tokens")))
    info.cache_creation_input_tokens = _zero(count(get(prompt, "cache_write_tokens")))
    info.reasoning_tokens = _zero(count(get(completion, "reasoning_tokens")))


def openai_responses_usage(info: CallInfo, usage: Any) -> None:
    """Responses API: input_tokens include cached ones, output_tokens reasoning ones."""
    info.input_tokens = count(get(usage, "input_tokens"))
    info.output_tokens = count(get(usage, "output_tokens"))
    details = get(usage, "input_tokens_details")
    out_details = get(usage, "output_tokens_details")
    info.cached_input_tokens = _zero(count(get(details, "cached_tokens")))
    info.cache_creation_input_tokens = _zero(count(get(details, "cache_write_tokens")))
    info.reasoning_tokens = _zero(count(get(out_details, "reasoning_tokens")))


def anthropic_usage(info: CallInfo, usage: Any, fallback: Any = None) -> None:
    """Anthropic Messages: input_tokens exclude cache reads and writes, which are added in.

    ``fallback`` is the usage of ``message_start`` when ``usage`` is a
    ``message_delta``'s, whose input fields may be absent.
    """

    def field(key: str) -> int | None:
        value = count(get(usage, key))
        if value is None and fallback is not None:
            value = count(get(fallback, key))
        return value

    base = field("input_tokens")
    read = _zero(field("cache_read_input_tokens"))
    write = _zero(field("cache_creation_input_tokens"))
    info.input_tokens = None if base is None else base + read + write
    info.cached_input_tokens = read
    info.cache_creation_input_tokens = write
    info.output_tokens = field("output_tokens")
    details = get(usage, "output_tokens_details") or get(fallback, "output_tokens_details")
    info.reasoning_tokens = _zero(count(get(details, "thinking_tokens")))


def generic_usage(info: CallInfo, usage: Any) -> None:
    if get(usage, "prompt_tokens") is not None:
        openai_chat_usage(info, usage)
        info.provider = info.provider or OPENAI
    elif get(usage, "cache_read_input_tokens") is not None or get(usage, "cache_creation_input_tokens") is not None:
        anthropic_usage(info, usage)
        info.provider = info.provider or ANTHROPIC
    else:
        openai_responses_usage(info, usage)


# Final objects.


def extract(obj: Any) -> CallInfo | None:
    """Read a complete response; None when the object is no known response."""
    if obj is None or isinstance(obj, str | bytes | int | float):
        return None
    kind = get(obj, "object")
    typ = get(obj, "type")
    usage = get(obj, "usage")
    info = CallInfo(model=_text(get(obj, "model")))
    if kind in ("chat.completion", "text_completion"):
        info.provider = OPENAI
        if usage is not None:
            openai_chat_usage(info, usage)
        return info
    if kind == "response":
        info.provider = OPENAI
        if usage is not None:
            openai_responses_usage(info, usage)
        _responses_status(info, obj)
        return info
    if typ == "message" and get(obj, "role") == "assistant":
        info.provider = ANTHROPIC
        if usage is not None:
            anthropic_usage(info, usage)
        return info
    if usage is not None and info.model is not None:
        generic_usage(info, usage)
        return info
    return None


def _responses_status(info: CallInfo, response: Any) -> None:
    status = get(response, "status")
    if status == "failed":
        info.status = "error"
        err = get(response, "error")
        info.error = _text(get(err, "code")) or "failed"


# Streams.


class StreamAccumulator:
    """Collects the model and usage of a stream, item by item."""

    def __init__(self, provider: str | None = None) -> None:
        self.info = CallInfo(provider=provider)
        self._anthropic_start: Any = None
        self.items = 0

    def add(self, item: Any) -> None:
        """Take one chunk or event of a stream into account."""
        self.items += 1
        kind = get(item, "object")
        typ = get(item, "type")
        if kind == "chat.completion.chunk" or kind == "text_completion":
            self._chat_chunk(item)
        elif typ == "chunk" and get(item, "chunk") is not None:
            # openai's ChatCompletionStream helper event wrapping a raw chunk.
            self._chat_chunk(get(item, "chunk"))
        elif isinstance(typ, str) and typ.startswith("response."):
            self._responses_event(typ, item)
        elif typ in ("message_start", "message_delta"):
            self._anthropic_event(typ, item)
        elif typ == "error":
            self.info.status = "error"
            self.info.error = _text(get(get(item, "error"), "type")) or _text(get(item, "code")) or "error"

    def _chat_chunk(self, chunk: Any) -> None:
        self.info.provider = self.info.provider or OPENAI
        self.info.model = self.info.model or _text(get(chunk, "model"))
        usage = get(chunk, "usage")
        if usage is not None:
            openai_chat_usage(self.info, usage)

    def _responses_event(self, typ: str, event: Any) -> None:
        self.info.provider = self.info.provider or OPENAI
        response = get(event, "response")
        if response is None:
            return
        self.info.model = _text(get(response, "model")) or self.info.model
        usage = get(response, "usage")
        if usage is not None:
            openai_responses_usage(self.info, usage)
        if typ == "response.failed":
            _responses_status(self.info, response)
            if self.info.status != "error":
                self.info.status, self.info.error = "error", "failed"

    def _anthropic_event(self, typ: str, event: Any) -> None:
        self.info.provider = self.info.provider or ANTHROPIC
        if typ == "message_start":
            message = get(event, "message")
            self.info.model = _text(get(message, "model")) or self.info.model
            self._anthropic_start = get(message, "usage")
            if self._anthropic_start is not None:
                anthropic_usage(self.info, self._anthropic_start)
            return
        usage = get(event, "usage")
        if usage is not None:
            anthropic_usage(self.info, usage, fallback=self._anthropic_start)


def extract_items(items: list[Any] | tuple[Any, ...]) -> CallInfo | None:
    """Read a stream already consumed into a list of chunks or events."""
    acc = StreamAccumulator()
    for item in items:
        acc.add(item)
    if acc.info.model is None and not acc.info.has_usage:
        return None
    return acc.info
