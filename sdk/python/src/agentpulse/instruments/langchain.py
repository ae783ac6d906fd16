"""LangChain integration: record the LLM and tool calls of a chain or agent.

.. code-block:: python

    from agentpulse.instruments.langchain import AgentPulseCallbackHandler

    s = agentpulse.session(user_id)
    chain.invoke(question, config={"callbacks": [AgentPulseCallbackHandler(s)]})

Needs ``langchain-core`` (``pip install 'agentpulse[langchain]'``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import LLMResult
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "agentpulse.instruments.langchain needs langchain-core: pip install 'agentpulse[langchain]'"
    ) from exc

from .._extract import CallInfo, count, error_text, generic_usage, get
from .._log import logger
from .._session import Overrides, Session, current_session

__all__ = ["AgentPulseCallbackHandler"]


@dataclass(slots=True)
class _Run:
    session: Session
    started: float
    name: str | None = None
    model: str | None = None
    provider: str | None = None


class AgentPulseCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that records LLM and tool calls to a session.

    Pass the session explicitly, or none to use the session active when each
    call starts (see :meth:`agentpulse.Session.activate`). LLM calls carry the
    model, the token counts of the message's ``usage_metadata`` (cached,
    cache-creation and reasoning tokens included), the cost from the price
    table and the duration; tool calls carry the tool's name and duration.
    Failed calls are recorded with ``status="error"``. The handler never
    raises into the chain.
    """

    run_inline = True
    raise_error = False

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self._session = session
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # Runs.

    def _start(self, run_id: UUID, **fields: Any) -> None:
        session = self._session or current_session()
        if session is None:
            logger.debug("LangChain run %s started with no active session; it is not recorded", run_id)
            return
        with self._lock:
            self._runs[run_id] = _Run(session=session, started=time.monotonic(), **fields)

    def _finish(self, run_id: UUID) -> tuple[_Run, int] | None:
        with self._lock:
            run = self._runs.pop(run_id, None)
        if run is None:
            return None
        return run, round((time.monotonic() - run.started) * 1000)

    # LLM calls.

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the start of a chat model call."""
        self._llm_start(serialized, run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the start of a completion model call."""
        self._llm_start(serialized, run_id, metadata, kwargs)

    def _llm_start(
        self,
        serialized: Mapping[str, Any] | None,
        run_id: UUID,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        try:
            meta = metadata or {}
            params = kwargs.get("invocation_params") or {}
            model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
            provider = meta.get("ls_provider")
            self._start(
                run_id,
                model=model if isinstance(model, str) else None,
                provider=provider if isinstance(provider, str) else None,
            )
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a finished LLM call with its usage."""
        try:
            finished = self._finish(run_id)
            if finished is None:
                return
            run, ms = finished
            info = _from_result(response, run)
            run.session._safe_record_llm(info, Overrides(duration_ms=ms))
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a failed LLM call."""
        try:
            finished = self._finish(run_id)
            if finished is None:
                return
            run, ms = finished
            info = CallInfo(model=run.model, provider=run.provider).failed(error)
            run.session._safe_record_llm(info, Overrides(duration_ms=ms))
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)

    # Tool calls.

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Note the start of a tool call."""
        try:
            name = get(serialized, "name") or kwargs.get("name") or "tool"
            self._start(run_id, name=str(name))
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a finished tool call."""
        try:
            finished = self._finish(run_id)
            if finished is not None:
                run, ms = finished
                run.session.tool_call(run.name or "tool", duration_ms=ms)
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a failed tool call."""
        try:
            finished = self._finish(run_id)
            if finished is not None:
                run, ms = finished
                run.session.tool_call(run.name or "tool", duration_ms=ms, status="error", error=error_text(error))
        except Exception as exc:
            logger.error("AgentPulseCallbackHandler: %s: %s", type(exc).__name__, exc)


def _from_result(response: LLMResult, run: _Run) -> CallInfo:
    info = CallInfo(model=run.model, provider=run.provider)
    totals = {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0, "reasoning": 0}
    found = False
    for generations in response.generations or []:
        for gen in generations:
            message = getattr(gen, "message", None)
            meta = getattr(message, "response_metadata", None) or {}
            name = meta.get("model_name") or meta.get("model")
            if isinstance(name, str) and name:
                info.model = name
            provider = meta.get("model_provider")
            if isinstance(provider, str) and provider and not info.provider:
                info.provider = provider
            usage = getattr(message, "usage_metadata", None)
            if usage:
                # One usage per prompt: with n > 1 every generation repeats it.
                found = True
                totals["input"] += count(get(usage, "input_tokens")) or 0
                totals["output"] += count(get(usage, "output_tokens")) or 0
                details = get(usage, "input_token_details") or {}
                totals["cache_read"] += count(get(details, "cache_read")) or 0
                totals["cache_creation"] += count(get(details, "cache_creation")) or 0
                out_details = get(usage, "output_token_details") or {}
                totals["reasoning"] += count(get(out_details, "reasoning")) or 0
                break
    if found:
        info.input_tokens = totals["input"]
        info.output_tokens = totals["output"]
        info.cached_input_tokens = totals["cache_read"]
        info.cache_creation_input_tokens = totals["cache_creation"]
        info.reasoning_tokens = totals["reasoning"]
        return info
    output = response.llm_output or {}
    name = output.get("model_name") or output.get("model")
    if isinstance(name, str) and name:
        info.model = name
    usage = output.get("token_usage") or output.get("usage")
    if usage:
        provider = info.provider
        generic_usage(info, usage)
        info.provider = provider or info.provider
    return info
