"""The session: one conversation of one user with the product."""

from __future__ import annotations

import contextvars
import inspect
import threading
import time
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _extract, _streams
from ._event import (
    OUTCOME_NAME,
    check_count,
    check_id,
    check_number,
    new_event_id,
    new_session_id,
    timestamp,
)
from ._extract import error_text
from ._log import InvalidArgumentError, guarded, logger, report
from ._transport import encode_event

if TYPE_CHECKING:
    from ._core import Core

_T = TypeVar("_T")

_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("agentpulse_session", default=None)
_tokens: contextvars.ContextVar[tuple[contextvars.Token[Session | None], ...]] = contextvars.ContextVar(
    "agentpulse_session_tokens", default=()
)

BUILTIN_STAGES = ("reached", "engaged", "artifact", "converted")


def clock() -> float:
    """The time that session inactivity is measured on (monotonic seconds)."""
    return time.monotonic()


def current_session() -> Session | None:
    """Return the session made active in this context, or None."""
    return _current.get()


class Session:
    """One conversation of one user with the product.

    Get one with :func:`agentpulse.session`; it stays the user's session until
    :meth:`end` is called or ``session_timeout_minutes`` pass without an event.
    Every method is safe to call from many threads and asyncio tasks, and none
    raises: a call that cannot be recorded is logged and skipped.

    Use it as a context manager (``with agentpulse.session(user_id) as s:``)
    or call :meth:`activate` to make it the *active session* of the current
    context, where instrumented clients and the LangChain handler record.
    Leaving the ``with`` block deactivates the session; it does not end it.
    """

    def __init__(self, core: Core, user_id: str, metadata: dict[str, Any] | None = None) -> None:
        self._core = core
        self._lock = threading.Lock()
        self.id: str = new_session_id()
        """The session id sent with every event."""
        self.user_id: str = user_id
        """The user this session belongs to."""
        self._pending_metadata: dict[str, Any] = dict(metadata or {})
        self._metadata: dict[str, Any] = dict(metadata or {})
        self._last_activity = clock()
        self._events = 0
        self._ended = False
        self._depth = 0
        self._cost = 0.0
        self._llm_calls = 0
        self._unpriced = 0
        self._revenue = 0.0
        self._by_currency: dict[str, float] = {}
        self._savings = 0.0
        self._outcomes: set[str] = set()
        self._converted = False

    def __repr__(self) -> str:
        return f"<agentpulse.Session {self.id} user={self.user_id!r} ended={self.is_ended}>"

    # Context.

    def activate(self) -> Session:
        """Make this the active session of the current thread or task, and return it.

        asyncio tasks inherit the active session of the code that created them;
        a new thread starts with none (run it in ``contextvars.copy_context()``
        to carry it over).
        """
        _current.set(self)
        return self

    def deactivate(self) -> None:
        """Clear the active session of the current context if it is this one."""
        if _current.get() is self:
            _current.set(None)

    def __enter__(self) -> Session:
        token = _current.set(self)
        _tokens.set((*_tokens.get(), token))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _tokens.get()
        if not stack:
            self.deactivate()
            return
        _tokens.set(stack[:-1])
        try:
            _current.reset(stack[-1])
        except ValueError:  # entered in another context
            self.deactivate()

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # State.

    @property
    def is_ended(self) -> bool:
        """True after :meth:`end`, or once the inactivity timeout has passed."""
        with self._lock:
            return self._ended_locked()

    def _ended_locked(self) -> bool:
        return self._ended or clock() - self._last_activity > self._core.config.session_timeout

    @property
    def conversation_depth(self) -> int:
        """Number of user messages recorded."""
        with self._lock:
            return self._depth

    @property
    def total_cost(self) -> float:
        """Cost in USD of the LLM and tool calls recorded with a known cost."""
        with self._lock:
            return self._cost

    @property
    def revenue(self) -> float:
        """Sum of the payments in USD.

        Payments in other currencies are kept apart in
        :attr:`revenue_by_currency`: the collector converts them with its
        exchange-rate table, the SDK has none.
        """
        with self._lock:
            return self._revenue

    @property
    def revenue_by_currency(self) -> dict[str, float]:
        """Sum of the payments by currency code, USD included."""
        with self._lock:
            return dict(self._by_currency)

    @property
    def margin(self) -> float:
        """``revenue - total_cost`` in USD."""
        with self._lock:
            return self._revenue - self._cost

    @property
    def cache_savings(self) -> float:
        """Sum of ``saved_cost_usd`` of the cache hits recorded."""
        with self._lock:
            return self._savings

    @property
    def unpriced_llm_calls(self) -> int:
        """LLM calls recorded without a cost (unknown model, or no token counts)."""
        with self._lock:
            return self._unpriced

    @property
    def outcomes(self) -> set[str]:
        """Names of the outcomes recorded, ``payment`` included."""
        with self._lock:
            return set(self._outcomes)

    @property
    def metadata(self) -> dict[str, Any]:
        """The session metadata sent so far, merged (latest value wins)."""
        with self._lock:
            return dict(self._metadata)

    @property
    def funnel_stage(self) -> str | None:
        """The furthest of the configured ``funnel_stages`` this session reached.

        Built-in stages follow the collector's rules (``engaged`` at two user
        messages, ``artifact`` on an artifact outcome, ``converted`` on a
        payment or an end with reason ``converted``); any other stage is reached
        by an outcome of its name. None before the first event.
        """
        with self._lock:
            if self._events == 0:
                return None
            reached: str | None = None
            for stage in self._core.config.funnel_stages:
                if stage == "reached":
                    hit = True
                elif stage == "engaged":
                    hit = self._depth >= 2
                elif stage == "converted":
                    hit = self._converted
                else:
                    hit = stage in self._outcomes
                if hit:
                    reached = stage
            return reached

    def _update_metadata(self, metadata: Mapping[str, Any]) -> None:
        with self._lock:
            changed = {k: v for k, v in metadata.items() if self._metadata.get(k) != v}
            if changed:
                self._pending_metadata.update(changed)
                self._metadata.update(changed)

    # Recording.

    def _record(self, event_type: str, properties: dict[str, Any] | None, apply: Any = None) -> bool:
        with self._lock:
            if self._ended_locked():
                why = "was ended" if self._ended else "timed out"
                logger.warning(
                    "session %s %s; %s was not recorded (call agentpulse.session(user_id) for a new one)",
                    self.id,
                    why,
                    event_type,
                )
                return False
            event: dict[str, Any] = {
                "event_id": new_event_id(),
                "session_id": self.id,
                "event_type": event_type,
                "timestamp": timestamp(),
                "user_id": self.user_id,
                "product_id": self._core.config.product,
            }
            if self._pending_metadata:
                event["metadata"] = dict(self._pending_metadata)
            if properties:
                event["properties"] = properties
            try:
                data = encode_event(event)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"{event_type} properties cannot be sent as JSON ({exc})") from None
            self._pending_metadata.clear()
            self._last_activity = clock()
            self._events += 1
            if apply is not None:
                apply()
        self._core.submit(event, data)
        return True

    @guarded(None)
    def message(self, role: Literal["user", "assistant", "agent"] | str, content: str | None) -> None:
        """Record a message of the user (``role="user"``) or of the agent (``"assistant"``/``"agent"``).

        The text itself is sent only with ``track_content=True``; otherwise only
        its length in characters.
        """
        kind = role.strip().lower() if isinstance(role, str) else role
        if kind == "user":
            event_type = "message.user"
        elif kind in ("assistant", "agent"):
            event_type = "message.agent"
        else:
            raise InvalidArgumentError(f"role must be 'user', 'assistant' or 'agent', got {role!r}")
        text = "" if content is None else content if isinstance(content, str) else str(content)
        props: dict[str, Any] = {"content_length": len(text)}
        if self._core.config.track_content:
            props["content"] = text

        def apply() -> None:
            if event_type == "message.user":
                self._depth += 1

        self._record(event_type, props, apply)

    def llm_call(
        self,
        response: _T | None = None,
        *,
        model: str | None = None,
        provider: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        duration_ms: float | None = None,
        cost_usd: float | None = None,
        status: Literal["ok", "error"] | None = None,
        error: str | None = None,
    ) -> _T | None:
        """Record one LLM call and return ``response`` (so it can wrap the call inline).

        Pass the provider's response and the model, token counts and cost are
        read from it: OpenAI chat completions and responses, Anthropic messages,
        their ``model_dump()`` dicts, or a list of the chunks of a consumed
        stream. A stream not yet consumed (``stream=True``) is returned as the
        same object and recorded when it ends; an awaitable (an async client's
        call before ``await``) is returned as an awaitable that records the call
        with its duration. Or give the fields yourself (keywords win over what
        the response says). ``input_tokens`` counts every input token, cached
        and cache-creation ones included; ``output_tokens`` includes reasoning
        tokens. The cost comes from the collector's price table unless
        ``cost_usd`` is given; a model without a price gets none (the collector
        then reports the call as unpriced).
        """
        try:
            return self._llm_call(
                response,
                Overrides(
                    model=model,
                    provider=provider,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cached_input_tokens=cached_input_tokens,
                    cache_creation_input_tokens=cache_creation_input_tokens,
                    reasoning_tokens=reasoning_tokens,
                    duration_ms=duration_ms,
                    cost_usd=cost_usd,
                    status=status,
                    error=error,
                ),
            )
        except InvalidArgumentError as exc:
            logger.error("agentpulse Session.llm_call: %s; nothing was recorded", exc)
        except Exception as exc:
            report("agentpulse Session.llm_call failed and was skipped", exc)
        return response

    def _llm_call(self, response: _T | None, given: Overrides) -> _T | None:
        overrides = Overrides(
            model=given.model,
            provider=given.provider,
            input_tokens=_opt_count("input_tokens", given.input_tokens),
            output_tokens=_opt_count("output_tokens", given.output_tokens),
            cached_input_tokens=_opt_count("cached_input_tokens", given.cached_input_tokens),
            cache_creation_input_tokens=_opt_count("cache_creation_input_tokens", given.cache_creation_input_tokens),
            reasoning_tokens=_opt_count("reasoning_tokens", given.reasoning_tokens),
            duration_ms=None if given.duration_ms is None else check_number("duration_ms", given.duration_ms),
            cost_usd=None if given.cost_usd is None else check_number("cost_usd", given.cost_usd),
            status=given.status,
            error=None if given.error is None else str(given.error),
        )
        status = overrides.status
        if status is not None and status not in ("ok", "error"):
            raise InvalidArgumentError(f"status must be 'ok' or 'error', got {status!r}")
        if response is None:
            if overrides.model is None and overrides.input_tokens is None and overrides.output_tokens is None:
                raise InvalidArgumentError("llm_call() needs a response, or model= and token counts")
            self._record_llm(_extract.CallInfo(), overrides)
            return None
        if inspect.isawaitable(response):
            return self._await_llm(response, overrides)  # type: ignore[return-value]
        if _streams.is_stream(response):
            _streams.observe(response, None, self._stream_done(overrides))
            return response
        info = _extract.extract_items(response) if isinstance(response, list | tuple) else _extract.extract(response)
        if info is None:
            raise InvalidArgumentError(
                f"a {type(response).__name__} is no OpenAI or Anthropic response; "
                "pass model= and the token counts instead"
            )
        self._record_llm(info, overrides)
        return response

    async def _await_llm(self, awaitable: Awaitable[Any], overrides: Overrides) -> Any:
        started = time.monotonic()
        try:
            result = await awaitable
        except Exception as exc:
            info = _extract.CallInfo().failed(exc)
            if overrides.duration_ms is None:
                overrides.duration_ms = round((time.monotonic() - started) * 1000)
            self._safe_record_llm(info, overrides)
            raise
        if _streams.is_stream(result):
            _streams.observe(result, None, self._stream_done(overrides), started)
            return result
        if overrides.duration_ms is None:
            overrides.duration_ms = round((time.monotonic() - started) * 1000)
        info = _extract.extract(result) or _extract.CallInfo()
        self._safe_record_llm(info, overrides)
        return result

    def _stream_done(self, overrides: Overrides | None = None) -> _streams.Done:
        """The callback that records a stream's call when the stream ends."""

        def done(acc: _extract.StreamAccumulator, exc: BaseException | None, ms: float) -> None:
            info = acc.info
            if exc is not None:
                info.failed(exc)
            o = overrides or Overrides()
            if o.duration_ms is None:
                o.duration_ms = round(ms)
            self._safe_record_llm(info, o)

        return done

    def _safe_record_llm(self, info: _extract.CallInfo, overrides: Overrides | None = None) -> None:
        """Record an LLM call from what a response said; never raises (used by instruments)."""
        try:
            self._record_llm(info, overrides)
        except InvalidArgumentError as exc:
            logger.error("agentpulse llm_call: %s; nothing was recorded", exc)
        except Exception as exc:
            logger.error("failed to record an LLM call: %s: %s", type(exc).__name__, exc)

    def _record_llm(self, info: _extract.CallInfo, overrides: Overrides | None = None) -> None:
        o = overrides or Overrides()
        model = o.model or info.model
        price = self._core.prices.lookup(model)
        provider = o.provider or info.provider or (price.provider if price else None)

        def pick(name: str) -> int | None:
            value: int | None = getattr(o, name)
            if value is None:
                value = getattr(info, name)
            return value

        tokens = {
            name: pick(name)
            for name in (
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_creation_input_tokens",
                "reasoning_tokens",
            )
        }
        cost = o.cost_usd
        has_usage = tokens["input_tokens"] is not None or tokens["output_tokens"] is not None
        if cost is None and not has_usage and info.refused:
            cost = 0.0  # a request the provider refused is not billed
        elif cost is None and price is not None and has_usage:
            cost = price.cost(
                tokens["input_tokens"] or 0,
                tokens["output_tokens"] or 0,
                tokens["cached_input_tokens"] or 0,
                tokens["cache_creation_input_tokens"] or 0,
            )
        status = o.status or ("error" if o.error else info.status)
        err = o.error or info.error

        props: dict[str, Any] = {}
        if model:
            props["model"] = model
        if provider:
            props["provider"] = provider
        props.update({k: v for k, v in tokens.items() if v is not None})
        if o.duration_ms is not None:
            props["duration_ms"] = o.duration_ms
        if cost is not None:
            props["cost_usd"] = cost
        props["status"] = status
        if err:
            props["error"] = err

        def apply() -> None:
            self._llm_calls += 1
            if cost is None:
                self._unpriced += 1
            else:
                self._cost += cost

        if self._record("action.llm_call", props, apply) and cost is None:
            logger.debug(
                "LLM call of model %r has no cost: %s",
                model,
                "the price table has no such model" if price is None else "no token counts were given",
            )

    @guarded(None)
    def tool_call(
        self,
        name: str,
        duration_ms: float | None = None,
        cost_usd: float | None = None,
        status: Literal["ok", "error"] = "ok",
        error: str | None = None,
    ) -> None:
        """Record a call of a tool (search, code execution, an external API ...), with its cost in USD."""
        tool = check_id("name", name)
        props: dict[str, Any] = {"tool_name": tool}
        if duration_ms is not None:
            props["duration_ms"] = check_number("duration_ms", duration_ms)
        cost = None if cost_usd is None else check_number("cost_usd", cost_usd)
        if cost is not None:
            props["cost_usd"] = cost
        if status not in ("ok", "error"):
            raise InvalidArgumentError(f"status must be 'ok' or 'error', got {status!r}")
        props["status"] = "error" if error else status
        if error:
            props["error"] = str(error)

        def apply() -> None:
            if cost is not None:
                self._cost += cost

        self._record("action.tool_call", props, apply)

    def tool(self, name: str, cost_usd: float | None = None) -> ToolTimer:
        """Time a tool call: ``with session.tool("search"):`` records it with its duration.

        An exception inside the block is recorded as an error and re-raised
        unchanged.
        """
        return ToolTimer(self, name, cost_usd)

    @guarded(None)
    def cache_hit(self, name: str, saved_cost_usd: float | None = None) -> None:
        """Record an answer served from a cache, and the LLM cost it saved in USD."""
        props: dict[str, Any] = {"cache_name": check_id("name", name)}
        saved = None if saved_cost_usd is None else check_number("saved_cost_usd", saved_cost_usd)
        if saved is not None:
            props["saved_cost_usd"] = saved

        def apply() -> None:
            if saved is not None:
                self._savings += saved

        self._record("action.cache_hit", props, apply)

    @guarded(None)
    def outcome(self, name: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Record an outcome: ``artifact``, ``handoff``, ``abandon``, ``error`` or your own lowercase name.

        ``metadata`` describes the outcome (say ``{"type": "contract"}``) and is
        sent as the event's properties. A custom funnel stage is reached by an
        outcome of its name. Use :meth:`payment` for payments.
        """
        if not isinstance(name, str):
            raise InvalidArgumentError(f"outcome name must be a string, got {name!r}")
        slug = name.strip().lower()
        if slug.startswith("outcome."):
            slug = slug[len("outcome.") :]
        if slug == "payment":
            raise InvalidArgumentError("use payment(amount, currency) to record a payment")
        if not OUTCOME_NAME.fullmatch(slug):
            raise InvalidArgumentError(
                f"outcome name {name!r} must be a lowercase slug: a-z, 0-9, '_' and '-', at most 64 characters"
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(f"outcome metadata must be a dict, got {type(metadata).__name__}")
        props = dict(metadata) if metadata else None

        def apply() -> None:
            self._outcomes.add(slug)

        self._record("outcome." + slug, props, apply)

    @guarded(None)
    def payment(self, amount: float, currency: str = "USD") -> None:
        """Record a payment (revenue) in an ISO 4217 currency; a negative amount is a refund."""
        value = check_number("amount", amount, minimum=None)
        if not isinstance(currency, str) or len(currency.strip()) != 3 or not currency.strip().isalpha():
            raise InvalidArgumentError(f"currency must be an ISO 4217 code such as USD, got {currency!r}")
        code = currency.strip().upper()

        def apply() -> None:
            self._outcomes.add("payment")
            self._by_currency[code] = self._by_currency.get(code, 0.0) + value
            if code == "USD":
                self._revenue += value
            if value > 0:
                self._converted = True

        self._record("outcome.payment", {"amount": value, "currency": code}, apply)

    @guarded(None)
    def feedback(self, kind: Literal["explicit", "implicit"], value: str, score: float | None = None) -> None:
        """Record feedback: ``explicit`` (thumbs up/down, a rating) or ``implicit`` (a download, a copy)."""
        k = kind.strip().lower() if isinstance(kind, str) else kind
        if isinstance(k, str) and k.startswith("feedback."):
            k = k[len("feedback.") :]
        if k not in ("explicit", "implicit"):
            raise InvalidArgumentError(f"feedback kind must be 'explicit' or 'implicit', got {kind!r}")
        props: dict[str, Any] = {"value": check_id("value", value)}
        if score is not None:
            props["score"] = check_number("score", score, minimum=None)
        self._record("feedback." + k, props)

    @guarded(None)
    def end(self, reason: str | None = None) -> None:
        """End the session (reason such as ``converted``, ``user_left``, ``resolved``).

        The user's next :func:`agentpulse.session` call starts a new session.
        """
        props = None if reason is None else {"reason": check_id("reason", reason)}

        def apply() -> None:
            self._ended = True
            if reason == "converted":
                self._converted = True

        if self._record("session.end", props, apply):
            self._core.forget(self)


def _opt_count(name: str, value: Any) -> int | None:
    return None if value is None else check_count(name, value)


class Overrides:
    __slots__ = (
        "cache_creation_input_tokens",
        "cached_input_tokens",
        "cost_usd",
        "duration_ms",
        "error",
        "input_tokens",
        "model",
        "output_tokens",
        "provider",
        "reasoning_tokens",
        "status",
    )

    def __init__(
        self,
        *,
        model: str | None = None,
        provider: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        duration_ms: float | None = None,
        cost_usd: float | None = None,
        status: str | None = None,
        error: str | None = None,
    ) -> None:
        self.model = model
        self.provider = provider
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cached_input_tokens = cached_input_tokens
        self.cache_creation_input_tokens = cache_creation_input_tokens
        self.reasoning_tokens = reasoning_tokens
        self.duration_ms = duration_ms
        self.cost_usd = cost_usd
        self.status = status
        self.error = error


class ToolTimer:
    """Context manager returned by :meth:`Session.tool`."""

    def __init__(self, session: Session, name: str, cost_usd: float | None) -> None:
        self._session = session
        self._name = name
        self.cost_usd = cost_usd
        """Cost in USD to record; may be set inside the block."""
        self._started = 0.0

    def __enter__(self) -> ToolTimer:
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ms = round((time.monotonic() - self._started) * 1000)
        if exc is not None:
            self._session.tool_call(self._name, ms, self.cost_usd, "error", error_text(exc))
        else:
            self._session.tool_call(self._name, ms, self.cost_usd)

    async def __aenter__(self) -> ToolTimer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
