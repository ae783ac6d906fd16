"""llm_call(response): model, tokens and cost read from real client objects.

The real openai and anthropic packages call the local fake provider; every
expected number is worked out here from the usage the fake was told to send.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

import agentpulse

from conftest import expected_cost, sent
from fakes import FakeCollector, FakeLLM

MESSAGES = [{"role": "user", "content": "Hi"}]


def openai_client(llm: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)


def anthropic_client(llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=llm.url, api_key="sk-ant-test", max_retries=0)


def chat_expectation(llm: FakeLLM, model: str, entry: str) -> dict[str, Any]:
    u = llm.chat_usage
    inp, out = u["prompt_tokens"], u["completion_tokens"]
    cached = u["prompt_tokens_details"]["cached_tokens"]
    return {
        "model": model,
        "provider": "openai",
        "input_tokens": inp,
        "output_tokens": out,
        "cached_input_tokens": cached,
        "cache_creation_input_tokens": 0,
        "reasoning_tokens": u["completion_tokens_details"]["reasoning_tokens"],
        "cost_usd": pytest.approx(expected_cost(entry, inp, out, cached), rel=1e-12),
        "status": "ok",
    }


def responses_expectation(llm: FakeLLM, model: str, entry: str) -> dict[str, Any]:
    u = llm.responses_usage
    inp, out = u["input_tokens"], u["output_tokens"]
    cached = u["input_tokens_details"]["cached_tokens"]
    creation = u["input_tokens_details"]["cache_write_tokens"]
    return {
        "model": model,
        "provider": "openai",
        "input_tokens": inp,
        "output_tokens": out,
        "cached_input_tokens": cached,
        "cache_creation_input_tokens": creation,
        "reasoning_tokens": u["output_tokens_details"]["reasoning_tokens"],
        "cost_usd": pytest.approx(expected_cost(entry, inp, out, cached, creation), rel=1e-12),
        "status": "ok",
    }


def anthropic_expectation(llm: FakeLLM, model: str, entry: str) -> dict[str, Any]:
    u = llm.anthropic_usage
    # Anthropic's input_tokens leave out cache reads and writes; the contract counts them in.
    inp = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    return {
        "model": model,
        "provider": "anthropic",
        "input_tokens": inp,
        "output_tokens": u["output_tokens"],
        "cached_input_tokens": u["cache_read_input_tokens"],
        "cache_creation_input_tokens": u["cache_creation_input_tokens"],
        "reasoning_tokens": 0,
        "cost_usd": pytest.approx(
            expected_cost(
                entry, inp, u["output_tokens"], u["cache_read_input_tokens"], u["cache_creation_input_tokens"]
            ),
            rel=1e-12,
        ),
        "status": "ok",
    }


def llm_props(ap: FakeCollector) -> list[dict[str, Any]]:
    return [e["properties"] for e in sent(ap, "action.llm_call")]


def without(props: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in keys}


# Complete responses.


def test_openai_chat_completion(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.model = "gpt-4o-2024-08-06"  # what OpenAI answers when asked for gpt-4o
    s = agentpulse.session("u1")
    resp = openai_client(llm).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert s.llm_call(resp) is resp
    s.llm_call(resp.model_dump())  # the same response as a plain dict
    s.llm_call(resp, duration_ms=420)
    first, as_dict, timed = llm_props(ap)
    want = chat_expectation(llm, "gpt-4o-2024-08-06", "gpt-4o")
    assert first == want
    assert as_dict == want
    assert timed == {**want, "duration_ms": 420}
    assert s.total_cost == pytest.approx(3 * expected_cost("gpt-4o", 1200, 300, 1000), rel=1e-12)


def test_openai_chat_parse(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    resp = openai_client(llm).chat.completions.parse(model="gpt-4.1-mini", messages=MESSAGES)
    s.llm_call(resp)
    assert llm_props(ap) == [chat_expectation(llm, "gpt-4.1-mini", "gpt-4.1-mini")]


def test_openai_response(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.model = "gpt-5-mini-2025-08-07"
    llm.responses_usage["input_tokens_details"]["cache_write_tokens"] = 200
    s = agentpulse.session("u1")
    resp = openai_client(llm).responses.create(model="gpt-5-mini", input="Hi")
    assert resp.output_text == "Hello there"
    s.llm_call(resp)
    s.llm_call(resp.model_dump())
    want = responses_expectation(llm, "gpt-5-mini-2025-08-07", "gpt-5-mini")
    assert want["cache_creation_input_tokens"] == 200
    assert llm_props(ap) == [want, want]


def test_anthropic_message(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    msg = anthropic_client(llm).messages.create(model="claude-sonnet-4-5-20250929", max_tokens=100, messages=MESSAGES)
    s.llm_call(msg)
    s.llm_call(msg.model_dump())
    want = anthropic_expectation(llm, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5")
    assert llm_props(ap) == [want, want]


def test_anthropic_thinking_tokens(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.anthropic_usage["output_tokens_details"] = {"thinking_tokens": 150}
    s = agentpulse.session("u1")
    msg = anthropic_client(llm).messages.create(model="claude-opus-4-1", max_tokens=100, messages=MESSAGES)
    s.llm_call(msg)
    (props,) = llm_props(ap)
    assert props["reasoning_tokens"] == 150
    assert props["output_tokens"] == llm.anthropic_usage["output_tokens"]


def test_unknown_model_gets_no_cost(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    resp = openai_client(llm).chat.completions.create(model="acme-llm-9000", messages=MESSAGES)
    s.llm_call(resp)
    (props,) = llm_props(ap)
    assert "cost_usd" not in props
    assert props["input_tokens"] == llm.chat_usage["prompt_tokens"]
    assert s.unpriced_llm_calls == 1
    assert s.total_cost == 0


def test_explicit_fields_win(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    resp = openai_client(llm).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    s.llm_call(resp, cost_usd=0.25, provider="azure")
    (props,) = llm_props(ap)
    assert props["cost_usd"] == 0.25
    assert props["provider"] == "azure"


# Streams.


def test_openai_chat_stream_with_usage(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    stream = openai_client(llm).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    same = s.llm_call(stream)
    assert same is stream
    assert type(same) is openai.Stream
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello there"
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == chat_expectation(llm, "gpt-4o-mini", "gpt-4o-mini")
    assert isinstance(props["duration_ms"], int)
    assert props["duration_ms"] >= 0


def test_openai_chat_stream_without_usage_is_unpriced(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    stream = openai_client(llm).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for _ in s.llm_call(stream):
        pass
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == {"model": "gpt-4o-mini", "provider": "openai", "status": "ok"}
    assert s.unpriced_llm_calls == 1


def test_consumed_chunks(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    client = openai_client(llm)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    s.llm_call(chunks)
    events = list(client.responses.create(model="o3", input="Hi", stream=True))
    s.llm_call(events)
    raw = list(
        anthropic_client(llm).messages.create(
            model="claude-3-5-haiku-latest", max_tokens=9, messages=MESSAGES, stream=True
        )
    )
    s.llm_call(raw)
    chat, responses, messages = llm_props(ap)
    assert chat == chat_expectation(llm, "gpt-4o", "gpt-4o")
    assert responses == responses_expectation(llm, "o3", "o3")
    assert messages == anthropic_expectation(llm, "claude-3-5-haiku-latest", "claude-3-5-haiku")


def test_openai_responses_stream(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    stream = openai_client(llm).responses.create(model="gpt-4.1", input="Hi", stream=True)
    assert s.llm_call(stream) is stream
    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert deltas == ["Hello", " there"]
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == responses_expectation(llm, "gpt-4.1", "gpt-4.1")


def test_anthropic_stream(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    stream = anthropic_client(llm).messages.create(
        model="claude-sonnet-4-20250514", max_tokens=100, messages=MESSAGES, stream=True
    )
    assert s.llm_call(stream) is stream
    assert type(stream) is anthropic.Stream
    kinds = [e.type for e in stream]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == anthropic_expectation(llm, "claude-sonnet-4-20250514", "claude-sonnet-4")


def test_stream_helpers_final_objects(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    with openai_client(llm).chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final_chat = stream.get_final_completion()
    s.llm_call(final_chat)
    with anthropic_client(llm).messages.stream(model="claude-opus-4-1", max_tokens=100, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "Hello there"
        final_message = stream.get_final_message()
    s.llm_call(final_message)
    chat, message = llm_props(ap)
    assert chat == chat_expectation(llm, "gpt-4o", "gpt-4o")
    assert message == anthropic_expectation(llm, "claude-opus-4-1", "claude-opus-4-1")


def test_helper_stream_object_itself(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    with anthropic_client(llm).messages.stream(model="claude-opus-4-1", max_tokens=100, messages=MESSAGES) as stream:
        s.llm_call(stream)
        assert stream.get_final_text() == "Hello there"
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == anthropic_expectation(llm, "claude-opus-4-1", "claude-opus-4-1")


def test_stream_closed_early_is_still_recorded(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    stream = anthropic_client(llm).messages.create(
        model="claude-opus-4-1", max_tokens=100, messages=MESSAGES, stream=True
    )
    s.llm_call(stream)
    for event in stream:
        if event.type == "content_block_delta":
            break
    stream.close()
    del stream, event
    (props,) = llm_props(ap)
    # message_start carried the input side; the output count came only at the end.
    assert props["input_tokens"] == 2550
    assert props["output_tokens"] == 1


# Async.


async def test_async_openai_awaitable_and_stream(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    client = openai.AsyncOpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)
    resp = await s.llm_call(client.chat.completions.create(model="gpt-4o", messages=MESSAGES))
    assert isinstance(resp, openai.types.chat.ChatCompletion)
    stream = await client.responses.create(model="gpt-5", input="Hi", stream=True)
    assert s.llm_call(stream) is stream
    assert type(stream) is openai.AsyncStream
    n = 0
    async for _ in stream:
        n += 1
    assert n == 10
    chat, responses = llm_props(ap)
    assert without(chat, "duration_ms") == chat_expectation(llm, "gpt-4o", "gpt-4o")
    assert chat["duration_ms"] >= 0
    assert without(responses, "duration_ms") == responses_expectation(llm, "gpt-5", "gpt-5")
    await client.close()


async def test_async_anthropic(ap: FakeCollector, llm: FakeLLM) -> None:
    s = agentpulse.session("u1")
    client = anthropic.AsyncAnthropic(base_url=llm.url, api_key="k", max_retries=0)
    msg = await s.llm_call(client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES))
    assert msg.content[0].text == "Hello there"
    stream = s.llm_call(
        await client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=True)
    )
    assert [e.type async for e in stream][-1] == "message_stop"
    plain, streamed = llm_props(ap)
    want = anthropic_expectation(llm, "claude-haiku-4-5", "claude-haiku-4-5")
    assert without(plain, "duration_ms") == want
    assert without(streamed, "duration_ms") == want
    await client.close()


async def test_async_error_is_recorded_and_raised(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.errors.append((400, {"error": {"message": "bad request", "type": "invalid_request_error"}}))
    s = agentpulse.session("u1")
    client = openai.AsyncOpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.BadRequestError):
        await s.llm_call(client.chat.completions.create(model="gpt-4o", messages=MESSAGES), model="gpt-4o")
    (props,) = llm_props(ap)
    assert without(props, "duration_ms") == {
        "model": "gpt-4o",
        "provider": "openai",
        "status": "error",
        "error": "BadRequestError (status 400)",
        "cost_usd": 0.0,  # refused with an HTTP error: not billed
    }
    assert s.unpriced_llm_calls == 0
    await client.close()
