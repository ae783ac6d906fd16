"""The LangChain handler with real langchain-core, langchain-openai and langchain-anthropic.

The chat models call the local fake provider through the real openai and
anthropic clients; tools are real LangChain tools.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import agentpulse
from agentpulse.instruments.langchain import AgentPulseCallbackHandler

from conftest import expected_cost, sent
from fakes import FakeCollector, FakeLLM


def chat_openai(llm: FakeLLM, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model="gpt-4o-mini", base_url=llm.openai_url, api_key="sk-test", max_retries=0, **kw)


def chat_anthropic(llm: FakeLLM) -> ChatAnthropic:
    return ChatAnthropic(model="claude-sonnet-4-5", base_url=llm.url, api_key="k", max_retries=0, max_tokens=64)


def llm_events(ap: FakeCollector) -> list[dict[str, Any]]:
    return [e["properties"] for e in sent(ap, "action.llm_call")]


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def fail(q: str) -> str:
    """Always fails."""
    raise ValueError("tool broke")


def test_openai_chat_model(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    handler = AgentPulseCallbackHandler(s)
    answer = chat_openai(llm).invoke("Hi", config={"callbacks": [handler]})
    assert answer.content == "Hello there"
    (props,) = llm_events(ap)
    u = llm.chat_usage
    cached = u["prompt_tokens_details"]["cached_tokens"]
    assert props["model"] == "gpt-4o-mini"
    assert props["provider"] == "openai"
    assert props["input_tokens"] == u["prompt_tokens"]
    assert props["output_tokens"] == u["completion_tokens"]
    assert props["cached_input_tokens"] == cached
    assert props["reasoning_tokens"] == u["completion_tokens_details"]["reasoning_tokens"]
    assert props["cost_usd"] == pytest.approx(
        expected_cost("gpt-4o-mini", u["prompt_tokens"], u["completion_tokens"], cached), rel=1e-12
    )
    assert props["status"] == "ok"
    assert props["duration_ms"] >= 0
    assert s.total_cost == pytest.approx(props["cost_usd"], rel=1e-12)


def test_anthropic_chat_model(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    chat_anthropic(llm).invoke("Hi", config={"callbacks": [AgentPulseCallbackHandler(s)]})
    (props,) = llm_events(ap)
    u = llm.anthropic_usage
    inp = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    assert props["model"] == "claude-sonnet-4-5"
    assert props["provider"] == "anthropic"
    assert props["input_tokens"] == inp
    assert props["cached_input_tokens"] == u["cache_read_input_tokens"]
    assert props["cache_creation_input_tokens"] == u["cache_creation_input_tokens"]
    assert props["output_tokens"] == u["output_tokens"]
    assert props["cost_usd"] == pytest.approx(
        expected_cost(
            "claude-sonnet-4-5", inp, u["output_tokens"], u["cache_read_input_tokens"], u["cache_creation_input_tokens"]
        ),
        rel=1e-12,
    )


def test_chain_with_streaming(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | chat_openai(llm, stream_usage=True)
    text = "".join(
        str(c.content) for c in chain.stream({"q": "Hi"}, config={"callbacks": [AgentPulseCallbackHandler(s)]})
    )
    assert text == "Hello there"
    (props,) = llm_events(ap)
    assert props["input_tokens"] == llm.chat_usage["prompt_tokens"]
    assert props["output_tokens"] == llm.chat_usage["completion_tokens"]


def test_tools(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    handler = AgentPulseCallbackHandler(s)
    assert add.invoke({"a": 2, "b": 3}, config={"callbacks": [handler]}) == 5
    with pytest.raises(ValueError, match="tool broke"):
        fail.invoke({"q": "x"}, config={"callbacks": [handler]})
    ok, failed = [e["properties"] for e in sent(ap, "action.tool_call")]
    assert ok["tool_name"] == "add"
    assert ok["status"] == "ok"
    assert ok["duration_ms"] >= 0
    assert failed == {
        "tool_name": "fail",
        "duration_ms": failed["duration_ms"],
        "status": "error",
        "error": "ValueError",
    }


def test_llm_error(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.errors.append((400, {"error": {"message": "bad", "type": "invalid_request_error"}}))
    s = agentpulse.session("u1")
    with pytest.raises(openai.BadRequestError) as info:
        chat_openai(llm).invoke("Hi", config={"callbacks": [AgentPulseCallbackHandler(s)]})
    (props,) = llm_events(ap)
    assert props["status"] == "error"
    assert props["error"] == f"{type(info.value).__name__} (status 400)"
    assert props["model"] == "gpt-4o-mini"
    assert props["cost_usd"] == 0.0


def test_active_session_when_none_is_given(ap: FakeCollector, llm: FakeLLM) -> None:
    handler = AgentPulseCallbackHandler()
    model = chat_openai(llm)
    model.invoke("Hi", config={"callbacks": [handler]})  # no active session: nothing recorded
    with agentpulse.session("u1") as s:
        model.invoke("Hi", config={"callbacks": [handler]})
    (event,) = sent(ap, "action.llm_call")
    assert event["session_id"] == s.id


async def test_async_chain(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    handler = AgentPulseCallbackHandler(s)
    answers = await chat_anthropic(llm).abatch(["a", "b", "c"], config={"callbacks": [handler]})
    assert [a.content for a in answers] == ["Hello there"] * 3
    assert len(llm_events(ap)) == 3
