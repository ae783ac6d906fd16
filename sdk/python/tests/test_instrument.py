"""instrument(client): the client behaves exactly as before and every call is recorded.

Each case runs the same call on a plain client and on an instrumented one,
both real clients calling the local fake provider, and compares what the
caller gets: type, content, stream items, exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

import agentpulse

from conftest import sent
from fakes import FakeCollector, FakeLLM, free_port
from test_extract import (
    MESSAGES,
    anthropic_expectation,
    chat_expectation,
    responses_expectation,
    without,
)


def clients(llm: FakeLLM, kind: str) -> tuple[Any, Any]:
    def make() -> Any:
        if kind == "openai":
            return openai.OpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)
        if kind == "async_openai":
            return openai.AsyncOpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)
        if kind == "anthropic":
            return anthropic.Anthropic(base_url=llm.url, api_key="k", max_retries=0)
        return anthropic.AsyncAnthropic(base_url=llm.url, api_key="k", max_retries=0)

    plain, wrapped = make(), make()
    assert agentpulse.instrument(wrapped) is wrapped
    assert type(wrapped) is type(plain)
    return plain, wrapped


def dump(obj: Any) -> Any:
    return obj.model_dump() if hasattr(obj, "model_dump") else obj


def calls(ap: FakeCollector) -> list[dict[str, Any]]:
    return [e["properties"] for e in sent(ap, "action.llm_call")]


SYNC_CASES: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "chat.create": ("openai", lambda c: c.chat.completions.create(model="gpt-4o", messages=MESSAGES), "chat"),
    "chat.parse": ("openai", lambda c: c.chat.completions.parse(model="gpt-4o", messages=MESSAGES), "chat"),
    "responses.create": ("openai", lambda c: c.responses.create(model="gpt-4o", input="Hi"), "responses"),
    "messages.create": (
        "anthropic",
        lambda c: c.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES),
        "anthropic",
    ),
}


def expectation(llm: FakeLLM, shape: str, model: str, entry: str) -> dict[str, Any]:
    if shape == "chat":
        return chat_expectation(llm, model, entry)
    if shape == "responses":
        return responses_expectation(llm, model, entry)
    return anthropic_expectation(llm, model, entry)


@pytest.mark.parametrize("case", SYNC_CASES)
def test_same_result_and_one_recorded_call(ap: FakeCollector, llm: FakeLLM, case: str) -> None:
    kind, call, shape = SYNC_CASES[case]
    plain, wrapped = clients(llm, kind)
    want = call(plain)
    with agentpulse.session("u1") as s:
        got = call(wrapped)
    assert type(got) is type(want)
    assert dump(got) == dump(want)
    (props,) = calls(ap)
    model = "claude-sonnet-4-5" if kind == "anthropic" else "gpt-4o"
    assert without(props, "duration_ms") == expectation(llm, shape, model, model)
    assert isinstance(props["duration_ms"], int)
    assert props["duration_ms"] >= 0
    assert s.total_cost == pytest.approx(props["cost_usd"], rel=1e-12)


def test_streams_are_the_same(ap: FakeCollector, llm: FakeLLM) -> None:
    plain, wrapped = clients(llm, "openai")
    aplain, awrapped = clients(llm, "anthropic")

    def chat(c: Any) -> Any:
        return c.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    def resp(c: Any) -> Any:
        return c.responses.create(model="gpt-4o-mini", input="Hi", stream=True)

    def msgs(c: Any) -> Any:
        return c.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=True)

    with agentpulse.session("u1"):
        for make, p, w in ((chat, plain, wrapped), (resp, plain, wrapped), (msgs, aplain, awrapped)):
            a, b = make(p), make(w)
            assert type(b) is type(a)
            assert [dump(x) for x in b] == [dump(x) for x in a]
    chat_props, resp_props, msg_props = calls(ap)
    assert without(chat_props, "duration_ms") == chat_expectation(llm, "gpt-4o-mini", "gpt-4o-mini")
    assert without(resp_props, "duration_ms") == responses_expectation(llm, "gpt-4o-mini", "gpt-4o-mini")
    assert without(msg_props, "duration_ms") == anthropic_expectation(llm, "claude-haiku-4-5", "claude-haiku-4-5")


def test_stream_helpers(ap: FakeCollector, llm: FakeLLM) -> None:
    plain, wrapped = clients(llm, "openai")
    aplain, awrapped = clients(llm, "anthropic")
    results = []
    with agentpulse.session("u1"):
        for c in (plain, wrapped):
            with c.chat.completions.stream(
                model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
            ) as stream:
                results.append(dump(stream.get_final_completion()))
            with c.responses.stream(model="o4-mini", input="Hi") as rstream:
                results.append(dump(rstream.get_final_response()))
        for c in (aplain, awrapped):
            with c.messages.stream(model="claude-sonnet-4", max_tokens=10, messages=MESSAGES) as mstream:
                results.append(dump(mstream.get_final_message()))
    assert results[0:2] == results[2:4]
    assert results[4] == results[5]
    chat_props, resp_props, msg_props = calls(ap)
    assert without(chat_props, "duration_ms") == chat_expectation(llm, "gpt-4o", "gpt-4o")
    assert without(resp_props, "duration_ms") == responses_expectation(llm, "o4-mini", "o4-mini")
    assert without(msg_props, "duration_ms") == anthropic_expectation(llm, "claude-sonnet-4", "claude-sonnet-4")


def test_raw_response(ap: FakeCollector, llm: FakeLLM) -> None:
    plain, wrapped = clients(llm, "openai")
    with agentpulse.session("u1"):
        raw = wrapped.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        got = raw.parse()
    assert dump(got) == dump(plain.chat.completions.create(model="gpt-4o", messages=MESSAGES))
    (props,) = calls(ap)
    assert without(props, "duration_ms") == chat_expectation(llm, "gpt-4o", "gpt-4o")


ERRORS = [
    (400, {"error": {"message": "bad", "type": "invalid_request_error"}}, "BadRequestError"),
    (429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, "RateLimitError"),
    (500, {"error": {"message": "boom", "type": "server_error"}}, "InternalServerError"),
]


@pytest.mark.parametrize(("status", "body", "name"), ERRORS)
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_exceptions_pass_through_unchanged(
    ap: FakeCollector, llm: FakeLLM, kind: str, status: int, body: dict[str, Any], name: str
) -> None:
    plain, wrapped = clients(llm, kind)
    if kind == "anthropic":
        body = {"type": "error", "error": {"type": body["error"]["type"], "message": body["error"]["message"]}}

        def call(c: Any) -> Any:
            return c.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES)
    else:

        def call(c: Any) -> Any:
            return c.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    module = anthropic if kind == "anthropic" else openai
    caught = []
    for c in (plain, wrapped):
        llm.errors.append((status, body))
        with agentpulse.session("u1"), pytest.raises(module.APIStatusError) as info:
            call(c)
        caught.append(info.value)
    a, b = caught
    assert type(a) is type(b)
    assert type(b).__name__ == name
    assert b.status_code == a.status_code == status
    assert b.body == a.body
    assert str(b) == str(a)
    (props,) = calls(ap)
    model = "claude-sonnet-4-5" if kind == "anthropic" else "gpt-4o"
    assert without(props, "duration_ms") == {
        "model": model,
        "provider": kind,
        "status": "error",
        "error": f"{name} (status {status})",
        "cost_usd": 0.0,
    }


def test_connection_error_passes_through(ap: FakeCollector) -> None:
    client = agentpulse.instrument(
        openai.OpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", max_retries=0)
    )
    with agentpulse.session("u1"), pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    (props,) = calls(ap)
    assert props["status"] == "error"
    assert props["error"] == "APIConnectionError"
    assert "cost_usd" not in props  # whether it was billed is unknown


def test_error_in_the_middle_of_a_stream(ap: FakeCollector, llm: FakeLLM) -> None:
    llm.stream_error_after = 1
    plain, wrapped = clients(llm, "anthropic")
    caught = []
    with agentpulse.session("u1"):
        for c in (plain, wrapped):
            stream = c.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES, stream=True)
            with pytest.raises(anthropic.APIStatusError) as info:
                for _ in stream:
                    pass
            caught.append(info.value)
    assert type(caught[0]) is type(caught[1])
    assert str(caught[0]) == str(caught[1])
    (props,) = calls(ap)
    assert props["status"] == "error"
    assert props["error"].startswith(type(caught[1]).__name__)
    # What message_start said is kept.
    assert props["input_tokens"] == 2550


def test_nothing_recorded_without_an_active_session(ap: FakeCollector, llm: FakeLLM) -> None:
    _, wrapped = clients(llm, "openai")
    wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert calls(ap) == []


def test_other_endpoints_are_not_recorded(ap: FakeCollector, llm: FakeLLM) -> None:
    _, wrapped = clients(llm, "anthropic")
    with agentpulse.session("u1"):
        assert wrapped.messages.count_tokens(model="claude-sonnet-4-5", messages=MESSAGES).input_tokens == 42
    assert "/v1/messages/count_tokens" in llm.paths
    assert calls(ap) == []


def test_copies_and_repeat_instrumentation(ap: FakeCollector, llm: FakeLLM) -> None:
    _, wrapped = clients(llm, "openai")
    assert agentpulse.instrument(wrapped) is wrapped  # twice: still one record per call
    copy = wrapped.with_options(timeout=30)
    with agentpulse.session("u1"):
        copy.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(calls(ap)) == 2


def test_instrument_rejects_other_objects(ap: FakeCollector, caplog: pytest.LogCaptureFixture) -> None:
    thing = object()
    assert agentpulse.instrument(thing) is thing
    assert "takes an OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic client" in caplog.text


def test_calls_go_to_the_session_active_in_their_thread(ap: FakeCollector, llm: FakeLLM) -> None:
    _, wrapped = clients(llm, "openai")
    a, b = agentpulse.session("a"), agentpulse.session("b")

    def work(s: agentpulse.Session, n: int) -> None:
        with s:
            for _ in range(n):
                wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    threads = [threading.Thread(target=work, args=(a, 3)), threading.Thread(target=work, args=(b, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = sent(ap, "action.llm_call")
    assert sorted(e["session_id"] for e in events) == sorted([a.id] * 3 + [b.id] * 2)


async def test_async_clients(ap: FakeCollector, llm: FakeLLM) -> None:
    plain, wrapped = clients(llm, "async_openai")
    aplain, awrapped = clients(llm, "async_anthropic")

    async def chat(c: Any) -> Any:
        return await c.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    async def chat_stream(c: Any) -> list[Any]:
        stream = await c.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        assert type(stream) is openai.AsyncStream
        return [dump(x) async for x in stream]

    async def msg(c: Any) -> Any:
        return await c.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)

    async def msg_helper(c: Any) -> Any:
        async with c.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES) as stream:
            return await stream.get_final_message()

    async def one(user: str, fn: Callable[[Any], Any], client: Any) -> Any:
        async with agentpulse.session(user):
            return await fn(client)

    for fn, p, w in (
        (chat, plain, wrapped),
        (chat_stream, plain, wrapped),
        (msg, aplain, awrapped),
        (msg_helper, aplain, awrapped),
    ):
        assert dump(await fn(p)) == dump(await one("u1", fn, w))

    # Concurrent tasks, each in its own session.
    await asyncio.gather(*(one(f"user-{i}", chat, wrapped) for i in range(5)))
    events = sent(ap, "action.llm_call")
    assert len(events) == 4 + 5
    first = [e["properties"] for e in events[:4]]
    assert without(first[0], "duration_ms") == chat_expectation(llm, "gpt-4.1", "gpt-4.1")
    assert without(first[1], "duration_ms") == chat_expectation(llm, "gpt-4.1", "gpt-4.1")
    assert without(first[2], "duration_ms") == anthropic_expectation(llm, "claude-haiku-4-5", "claude-haiku-4-5")
    assert without(first[3], "duration_ms") == anthropic_expectation(llm, "claude-haiku-4-5", "claude-haiku-4-5")
    per_user = {e["user_id"] for e in events[4:]}
    assert per_user == {f"user-{i}" for i in range(5)}
    await asyncio.gather(plain.close(), wrapped.close(), aplain.close(), awrapped.close())


async def test_async_exception_passes_through(ap: FakeCollector, llm: FakeLLM) -> None:
    plain, wrapped = clients(llm, "async_anthropic")
    caught = []
    for c in (plain, wrapped):
        llm.errors.append((529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        with pytest.raises(anthropic.APIStatusError) as info:
            async with agentpulse.session("u1"):
                await c.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)
        caught.append(info.value)
    assert type(caught[0]) is type(caught[1])
    assert caught[1].status_code == 529
    (props,) = calls(ap)
    assert props["status"] == "error"
    await asyncio.gather(plain.close(), wrapped.close())


def test_recording_failure_never_reaches_the_caller(
    ap: FakeCollector, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, wrapped = clients(llm, "openai")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("sink exploded")

    s = agentpulse.session("u1")
    monkeypatch.setattr(s._core, "submit", broken)
    with s, caplog.at_level(logging.ERROR, logger="agentpulse"):
        resp = wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert resp.choices[0].message.content == "Hello there"
    assert "sink exploded" in caplog.text


def test_context_is_captured_when_the_stream_starts(ap: FakeCollector, llm: FakeLLM) -> None:
    _, wrapped = clients(llm, "openai")
    with agentpulse.session("u1") as s:
        stream = wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    # Consumed after the block: still recorded to the session of the call.
    ctx = contextvars.copy_context()
    ctx.run(lambda: [None for _ in stream])
    (event,) = sent(ap, "action.llm_call")
    assert event["session_id"] == s.id
