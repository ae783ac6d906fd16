"""The session API: events as API.md defines them, and the session's own numbers."""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import agentpulse

from conftest import API_FIELDS, expected_cost, sent
from fakes import FakeCollector

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_quick_start(ap: FakeCollector) -> None:
    s = agentpulse.session(user_id="user-42", metadata={"channel": "whatsapp"})
    s.message("user", "Can you draft a rental contract?")
    s.llm_call(model="gpt-4o", input_tokens=1_000, output_tokens=250)
    s.message("assistant", "Here is a draft.")
    s.payment(49.0, "USD")

    events = sent(ap)
    assert [e["event_type"] for e in events] == ["message.user", "action.llm_call", "message.agent", "outcome.payment"]
    for e in events:
        assert set(e) <= API_FIELDS
        assert {"event_id", "session_id", "event_type", "timestamp", "user_id", "product_id"} <= set(e)
        assert e["session_id"] == s.id
        assert e["user_id"] == "user-42"
        assert e["product_id"] == "test-bot"
        assert TIMESTAMP.match(e["timestamp"]), e["timestamp"]
    assert len({e["event_id"] for e in events}) == 4
    # Session metadata rides on the first event only.
    assert events[0]["metadata"] == {"channel": "whatsapp"}
    assert all("metadata" not in e for e in events[1:])
    assert ap.requests[0].headers["X-API-Key"] == "ap_prod_test"
    assert ap.requests[0].headers["Content-Type"] == "application/json"


def test_event_properties_per_type(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    s.message("user", "héllo")
    s.message("agent", "hi")
    s.llm_call(
        model="claude-sonnet-4-5-20250929",
        input_tokens=3_000,
        output_tokens=800,
        cached_input_tokens=2_000,
        cache_creation_input_tokens=500,
        reasoning_tokens=300,
        duration_ms=1234,
    )
    s.tool_call("web_search", duration_ms=321, cost_usd=0.005)
    s.cache_hit("semantic_cache", saved_cost_usd=0.012)
    s.outcome("artifact", {"type": "contract"})
    s.outcome("quote_sent")
    s.payment(58, "brl")
    s.feedback("explicit", "thumbs_up", score=1)
    s.feedback("implicit", "download")
    s.end("converted")

    by_type = {e["event_type"]: e.get("properties") for e in sent(ap)}
    assert by_type["message.user"] == {"content_length": 5}
    assert by_type["message.agent"] == {"content_length": 2}
    assert by_type["action.llm_call"] == {
        "model": "claude-sonnet-4-5-20250929",
        "provider": "anthropic",
        "input_tokens": 3_000,
        "output_tokens": 800,
        "cached_input_tokens": 2_000,
        "cache_creation_input_tokens": 500,
        "reasoning_tokens": 300,
        "duration_ms": 1234,
        "cost_usd": pytest.approx(expected_cost("claude-sonnet-4-5", 3_000, 800, 2_000, 500), rel=1e-12),
        "status": "ok",
    }
    assert by_type["action.tool_call"] == {
        "tool_name": "web_search",
        "duration_ms": 321,
        "cost_usd": 0.005,
        "status": "ok",
    }
    assert by_type["action.cache_hit"] == {"cache_name": "semantic_cache", "saved_cost_usd": 0.012}
    assert by_type["outcome.artifact"] == {"type": "contract"}
    assert by_type["outcome.quote_sent"] is None
    assert by_type["outcome.payment"] == {"amount": 58, "currency": "BRL"}
    assert by_type["feedback.explicit"] == {"value": "thumbs_up", "score": 1}
    assert by_type["feedback.implicit"] == {"value": "download"}
    assert by_type["session.end"] == {"reason": "converted"}


def test_content_only_with_track_content(sdk: Callable[..., FakeCollector]) -> None:
    ap = sdk(track_content=True)
    s = agentpulse.session("u1")
    s.message("user", "Secret question")
    assert sent(ap)[0]["properties"] == {"content": "Secret question", "content_length": 15}


def test_session_numbers(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    s.message("user", "a")
    s.message("assistant", "b")
    s.message("user", "c")
    s.llm_call(model="gpt-4o-mini", input_tokens=10_000, output_tokens=2_000, cached_input_tokens=4_000)
    s.llm_call(model="gpt-4.1", input_tokens=1_000, output_tokens=100, cost_usd=0.5)
    s.llm_call(model="my-private-model", input_tokens=1_000, output_tokens=100)
    s.tool_call("search", cost_usd=0.25)
    s.cache_hit("c", saved_cost_usd=0.03)
    s.payment(20.0)
    s.payment(-5.0, "USD")
    s.payment(58.0, "BRL")

    llm_cost = expected_cost("gpt-4o-mini", 10_000, 2_000, 4_000) + 0.5
    total = llm_cost + 0.25
    assert s.conversation_depth == 2
    assert s.total_cost == pytest.approx(total, rel=1e-12)
    assert s.revenue == pytest.approx(15.0)
    assert s.revenue_by_currency == {"USD": 15.0, "BRL": 58.0}
    assert s.margin == pytest.approx(15.0 - total, rel=1e-12)
    assert s.cache_savings == pytest.approx(0.03)
    assert s.unpriced_llm_calls == 1
    assert s.outcomes == {"payment"}
    assert not s.is_ended

    unpriced = [e for e in sent(ap, "action.llm_call") if e["properties"]["model"] == "my-private-model"]
    assert "cost_usd" not in unpriced[0]["properties"]
    assert "provider" not in unpriced[0]["properties"]


def test_same_open_session_then_a_new_one_after_end(ap: FakeCollector) -> None:
    a = agentpulse.session("u1")
    assert agentpulse.session("u1") is a
    assert agentpulse.session("u2") is not a
    a.end("user_left")
    assert a.is_ended
    b = agentpulse.session("u1")
    assert b is not a
    assert b.id != a.id
    # Calls on the ended session record nothing.
    a.message("user", "late")
    events = sent(ap)
    assert [e["event_type"] for e in events if e["session_id"] == a.id] == ["session.end"]


def test_new_session_after_inactivity(sdk: Callable[..., FakeCollector], monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(agentpulse._session, "clock", lambda: now[0])
    ap = sdk(session_timeout_minutes=2)
    a = agentpulse.session("u1")
    a.message("user", "hi")
    now[0] += 100
    assert agentpulse.session("u1") is a
    a.message("user", "still here")  # activity restarts the clock
    now[0] += 119
    assert agentpulse.session("u1") is a
    assert not a.is_ended
    now[0] += 2
    assert a.is_ended
    a.message("user", "too late")  # not recorded
    b = agentpulse.session("u1")
    assert b is not a
    b.message("user", "new")
    events = sent(ap)
    assert [e["session_id"] for e in events] == [a.id, a.id, b.id]


def test_metadata_passed_later_goes_with_the_next_event(ap: FakeCollector) -> None:
    s = agentpulse.session("u1", {"channel": "web", "n": 1, "vip": True, "ratio": 0.5, "gone": None})
    s.message("user", "a")
    agentpulse.session("u1", {"channel": "web"})  # unchanged: nothing to send
    s.message("user", "b")
    agentpulse.session("u1", {"topic": "leases", "obj": ["x"]})
    s.message("user", "c")
    s.message("user", "d")
    events = sent(ap)
    assert [e.get("metadata") for e in events] == [
        {"channel": "web", "n": 1, "vip": True, "ratio": 0.5},
        None,
        {"topic": "leases", "obj": "['x']"},
        None,
    ]
    assert s.metadata == {"channel": "web", "n": 1, "vip": True, "ratio": 0.5, "topic": "leases", "obj": "['x']"}


def test_many_threads_share_one_session(ap: FakeCollector) -> None:
    got: list[agentpulse.Session] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        s = agentpulse.session("shared-user")
        got.append(s)
        for _ in range(50):
            s.message("user", "x")

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in got}) == 1
    assert got[0].conversation_depth == 16 * 50
    events = sent(ap)
    assert len(events) == 16 * 50
    assert {e["session_id"] for e in events} == {got[0].id}
    assert len({e["event_id"] for e in events}) == 16 * 50


async def test_many_tasks_share_one_session(ap: FakeCollector) -> None:
    async def task(i: int) -> agentpulse.Session:
        await asyncio.sleep(0)
        s = agentpulse.session("async-user")
        s.message("user", str(i))
        await asyncio.sleep(0)
        s.message("assistant", str(i))
        return s

    sessions = await asyncio.gather(*(task(i) for i in range(40)))
    assert len({id(s) for s in sessions}) == 1
    assert sessions[0].conversation_depth == 40
    assert len(sent(ap)) == 80


def test_context_manager_and_activate(ap: FakeCollector) -> None:
    assert agentpulse.current_session() is None
    a = agentpulse.session("a")
    b = agentpulse.session("b")
    with a as active:
        assert active is a
        assert agentpulse.current_session() is a
        with b:
            assert agentpulse.current_session() is b
        assert agentpulse.current_session() is a
    assert agentpulse.current_session() is None
    assert not a.is_ended  # leaving the block does not end the session

    assert b.activate() is b
    assert agentpulse.current_session() is b
    # Another thread starts without it, unless it runs in a copy of this context.
    seen: list[Any] = []
    threading.Thread(target=lambda: seen.append(agentpulse.current_session())).start()
    ctx = contextvars.copy_context()
    threading.Thread(target=lambda: seen.append(ctx.run(agentpulse.current_session))).start()
    assert wait_until(lambda: len(seen) == 2)
    assert None in seen
    assert b in seen
    b.deactivate()
    assert agentpulse.current_session() is None


def wait_until(cond: Callable[[], bool]) -> bool:
    for _ in range(500):
        if cond():
            return True
        time.sleep(0.01)
    return False


async def test_tasks_keep_their_own_active_session(ap: FakeCollector) -> None:
    async def task(user: str) -> str | None:
        async with agentpulse.session(user):
            await asyncio.sleep(0.01)
            current = agentpulse.current_session()
            return current.user_id if current else None

    users = [f"user-{i}" for i in range(10)]
    assert await asyncio.gather(*(task(u) for u in users)) == users


def test_funnel_stage(sdk: Callable[..., FakeCollector]) -> None:
    sdk(funnel_stages=["reached", "engaged", "quote_sent", "converted"])
    s = agentpulse.session("u1")
    assert s.funnel_stage is None
    s.message("user", "a")
    assert s.funnel_stage == "reached"
    s.message("user", "b")
    assert s.funnel_stage == "engaged"
    s.outcome("quote_sent")
    assert s.funnel_stage == "quote_sent"
    s.payment(10)
    assert s.funnel_stage == "converted"
    t = agentpulse.session("u2")
    t.message("user", "a")
    t.end("converted")
    assert t.funnel_stage == "converted"


def test_tool_timer(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    with s.tool("lookup", cost_usd=0.001):
        time.sleep(0.02)
    with pytest.raises(KeyError), s.tool("broken"):
        raise KeyError("missing")
    ok, failed = sent(ap, "action.tool_call")
    assert ok["properties"]["tool_name"] == "lookup"
    assert ok["properties"]["duration_ms"] >= 20
    assert ok["properties"]["cost_usd"] == 0.001
    assert failed["properties"]["status"] == "error"
    assert failed["properties"]["error"] == "KeyError"
    assert s.total_cost == pytest.approx(0.001)


def test_event_ids_sort_in_recording_order(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    for i in range(300):
        s.message("user", str(i))
    events = sent(ap)
    ids = [e["event_id"] for e in events]
    assert ids == sorted(ids)
    assert [e["properties"]["content_length"] for e in events] == [len(str(i)) for i in range(300)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.message("system", "x"), "role must be 'user', 'assistant' or 'agent'"),
        (lambda s: s.outcome("Quote Sent"), "must be a lowercase slug"),
        (lambda s: s.outcome("payment"), "use payment(amount, currency)"),
        (lambda s: s.payment(float("nan")), "amount must be a finite number"),
        (lambda s: s.payment("12"), "amount must be a number"),
        (lambda s: s.payment(10, "dollars"), "currency must be an ISO 4217 code"),
        (lambda s: s.llm_call(model="gpt-4o", input_tokens=-1), "input_tokens must be a non-negative integer"),
        (lambda s: s.llm_call(model="gpt-4o", output_tokens=1.5), "output_tokens must be a non-negative integer"),
        (lambda s: s.llm_call(model="gpt-4o", cost_usd=float("inf")), "cost_usd must be a finite number"),
        (lambda s: s.llm_call(object()), "is no OpenAI or Anthropic response"),
        (lambda s: s.llm_call(), "needs a response, or model= and token counts"),
        (lambda s: s.tool_call("", cost_usd=1), "name must be a non-empty string"),
        (lambda s: s.tool_call("t", cost_usd=-1), "cost_usd must be >= 0"),
        (lambda s: s.feedback("loud", "x"), "feedback kind must be 'explicit' or 'implicit'"),
        (lambda s: s.cache_hit("c", saved_cost_usd="a lot"), "saved_cost_usd must be a number"),
        (lambda s: s.outcome("artifact", {"x": float("nan")}), "cannot be sent as JSON"),
    ],
)
def test_bad_input_is_logged_never_raised(
    ap: FakeCollector, caplog: pytest.LogCaptureFixture, call: Callable[[agentpulse.Session], Any], message: str
) -> None:
    s = agentpulse.session("u1")
    call(s)  # must not raise
    assert message in caplog.text
    assert sent(ap) == []
    s.message("user", "the session still works")
    assert len(sent(ap)) == 1


def test_llm_call_returns_what_it_was_given_even_when_it_cannot_record(ap: FakeCollector) -> None:
    s = agentpulse.session("u1")
    thing = object()
    assert s.llm_call(thing) is thing


def test_bad_user_id_gives_a_session_that_records_nothing(ap: FakeCollector, caplog: pytest.LogCaptureFixture) -> None:
    s = agentpulse.session("")
    s.message("user", "x")
    assert "user_id must be a non-empty string" in caplog.text
    assert sent(ap) == []


def test_init_reports_every_bad_option_and_disables_the_sdk(caplog: pytest.LogCaptureFixture) -> None:
    ok = agentpulse.init(
        api_key="",
        product="p",
        base_url="ftp://nowhere",
        funnel_stages=["Reached"],
        flush_interval_seconds=0,
        max_queue_size=-5,
    )
    assert ok is False
    for part in (
        "api_key is required",
        "base_url must be an http",
        "funnel_stages must be lowercase slugs",
        "flush_interval_seconds must be a number > 0",
        "max_queue_size must be an integer >= 1",
    ):
        assert part in caplog.text
    s = agentpulse.session("u1")
    s.message("user", "x")  # discarded, with a warning
    assert "not initialized" in caplog.text
    assert agentpulse.stats()["dropped"] >= 1


def test_console_mode_prints_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert agentpulse.init(api_key="console", product="demo")
    try:
        s = agentpulse.session("u1")
        s.message("user", "hi")
        s.llm_call(model="gpt-4o", input_tokens=100, output_tokens=10)
        lines = capsys.readouterr().out.splitlines()
        events = [json.loads(line) for line in lines]
        assert [e["event_type"] for e in events] == ["message.user", "action.llm_call"]
        assert events[1]["properties"]["cost_usd"] == pytest.approx(expected_cost("gpt-4o", 100, 10), rel=1e-12)
        assert agentpulse.stats()["sent"] == 2
    finally:
        agentpulse.shutdown()


def test_calls_before_init_do_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    agentpulse.shutdown()
    s = agentpulse.session("u1")
    s.message("user", "x")
    s.payment(1)
    assert agentpulse.flush() is True
    assert "not initialized" in caplog.text
