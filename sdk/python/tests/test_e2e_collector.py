"""End to end: the SDK against the real collector binary on the embedded store.

The binary is built by ``make build`` (this test builds nothing); its path
comes from ``AGENTPULSE_COLLECTOR_BIN`` (default ``<repo>/bin/agentpulse``).
A missing binary is a failure, not a skip. The expected sessions, costs and
revenue are worked out here from the events the test records.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

import agentpulse

from conftest import Collector, expected_cost, poll, running_collector


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    with running_collector(tmp_path_factory.mktemp("collector-data"), "e2e-bot") as c:
        yield c


def test_sdk_sessions_costs_and_revenue_reach_the_query_api(collector: Collector) -> None:
    assert agentpulse.init(
        api_key=collector.product_key,
        product=collector.product,
        base_url=collector.url,
        flush_interval_seconds=0.2,
    )
    try:
        run = secrets.token_hex(4)
        alice = agentpulse.session(f"alice-{run}", {"channel": "web", "topic": "contracts"})
        alice.message("user", "I need a rental contract")
        alice.llm_call(model="gpt-4o-mini", input_tokens=12_000, output_tokens=800, cached_input_tokens=2_000)
        alice.llm_call(
            model="claude-sonnet-4-5-20250929",
            input_tokens=5_000,
            output_tokens=600,
            cached_input_tokens=3_000,
            cache_creation_input_tokens=1_000,
        )
        alice.tool_call("contract_template", duration_ms=120, cost_usd=0.0042)
        alice.message("assistant", "Here is your contract.")
        alice.message("user", "Thanks, I'll buy it")
        alice.outcome("artifact", {"type": "contract"})
        alice.payment(29.0, "USD")
        alice.end("converted")

        bob = agentpulse.session(f"bob-{run}", {"channel": "whatsapp"})
        bob.message("user", "hello?")
        bob.llm_call(model="acme-private-1", input_tokens=100, output_tokens=10)
        bob.tool_call("search", cost_usd=0.001)
        bob.cache_hit("semantic", saved_cost_usd=0.02)

        carol = agentpulse.session(f"carol-{run}")
        carol.message("user", "price?")
        carol.llm_call(model="gpt-4o", input_tokens=2_000, output_tokens=300, cost_usd=0.5)
        carol.payment(10.0)
        assert agentpulse.shutdown(timeout=10)
    finally:
        agentpulse.shutdown(timeout=1)

    # What the collector must answer, from the events above.
    alice_llm = expected_cost("gpt-4o-mini", 12_000, 800, 2_000) + expected_cost(
        "claude-sonnet-4-5", 5_000, 600, 3_000, 1_000
    )
    want = {
        alice.id: {
            "conversation_depth": 2,
            "llm_calls": 2,
            "tool_calls": 1,
            "unpriced_llm_calls": 0,
            "total_cost_usd": alice_llm + 0.0042,
            "revenue_usd": 29.0,
            "cache_savings_usd": 0.0,
            "converted": True,
            "status": "ended",
        },
        bob.id: {
            "conversation_depth": 1,
            "llm_calls": 1,
            "tool_calls": 1,
            "unpriced_llm_calls": 1,
            "total_cost_usd": 0.001,
            "revenue_usd": 0.0,
            "cache_savings_usd": 0.02,
            "converted": False,
            "status": "active",
        },
        carol.id: {
            "conversation_depth": 1,
            "llm_calls": 1,
            "tool_calls": 0,
            "unpriced_llm_calls": 0,
            "total_cost_usd": 0.5,
            "revenue_usd": 10.0,
            "cache_savings_usd": 0.0,
            "converted": True,
            "status": "active",
        },
    }
    # The SDK's own numbers agree with the arithmetic.
    for s in (alice, bob, carol):
        assert s.total_cost == pytest.approx(want[s.id]["total_cost_usd"], abs=1e-12)
        assert s.revenue == want[s.id]["revenue_usd"]
        assert s.margin == pytest.approx(want[s.id]["revenue_usd"] - want[s.id]["total_cost_usd"], abs=1e-12)

    def sessions_in(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {s["session_id"]: s for s in body["sessions"] if s["session_id"] in want}

    def complete(body: dict[str, Any]) -> bool:
        got = sessions_in(body)
        return len(got) == 3 and all(
            got[sid]["llm_calls"] == w["llm_calls"]
            and got[sid]["tool_calls"] == w["tool_calls"]
            and got[sid]["revenue_usd"] == pytest.approx(w["revenue_usd"])
            for sid, w in want.items()
        )

    body = poll(collector, "/v1/sessions", complete, limit=1000)
    got = sessions_in(body)
    for sid, w in want.items():
        s = got[sid]
        for key, value in w.items():
            if isinstance(value, float):
                assert s[key] == pytest.approx(value, abs=1e-9), (sid, key)
            else:
                assert s[key] == value, (sid, key, s)
        assert s["margin_usd"] == pytest.approx(w["revenue_usd"] - w["total_cost_usd"], abs=1e-9)
        assert s["product_id"] == collector.product
    assert got[alice.id]["user_id"] == alice.user_id
    assert set(got[alice.id]["outcomes"]) == {"artifact", "payment"}
    assert got[alice.id]["topic"] == "contracts"
    assert got[alice.id]["metadata"] == {"channel": "web", "topic": "contracts"}

    # Economics over the same sessions (this product has only this test's).
    total_cost = sum(w["total_cost_usd"] for w in want.values())
    revenue = sum(w["revenue_usd"] for w in want.values())
    llm_cost = alice_llm + 0.5
    tool_cost = 0.0042 + 0.001
    econ = poll(
        collector, "/v1/economics", lambda b: b["sessions"] == 3 and b["total_revenue_usd"] == pytest.approx(revenue)
    )
    assert econ["converted_sessions"] == 2
    assert econ["total_cost_usd"] == pytest.approx(total_cost, abs=1e-9)
    assert econ["llm_cost_usd"] == pytest.approx(llm_cost, abs=1e-9)
    assert econ["tool_cost_usd"] == pytest.approx(tool_cost, abs=1e-9)
    assert econ["gross_margin_usd"] == pytest.approx(revenue - total_cost, abs=1e-9)
    assert econ["gross_margin_pct"] == pytest.approx((revenue - total_cost) / revenue, abs=1e-9)
    assert econ["cost_per_conversion"] == pytest.approx(total_cost / 2, abs=1e-9)
    assert econ["cache_savings_usd"] == pytest.approx(0.02, abs=1e-9)
    assert econ["unpriced_llm_calls"] == 1

    # The events as stored: the SDK's costs are kept, the unpriced call says so.
    detail = collector.get(f"/v1/sessions/{alice.id}").json()
    llm = [e["properties"] for e in detail["events"] if e["event_type"] == "action.llm_call"]
    assert [p["cost_status"] for p in llm] == ["reported", "reported"], json.dumps(llm)
    assert [p["cost_usd"] for p in llm] == [
        pytest.approx(expected_cost("gpt-4o-mini", 12_000, 800, 2_000), abs=1e-12),
        pytest.approx(expected_cost("claude-sonnet-4-5", 5_000, 600, 3_000, 1_000), abs=1e-12),
    ]
    assert [p["input_tokens"] for p in llm] == [12_000, 5_000]
    assert [e["event_type"] for e in detail["events"]] == [
        "message.user",
        "action.llm_call",
        "action.llm_call",
        "action.tool_call",
        "message.agent",
        "message.user",
        "outcome.artifact",
        "outcome.payment",
        "session.end",
    ]
    detail = collector.get(f"/v1/sessions/{bob.id}").json()
    (llm_bob,) = [e["properties"] for e in detail["events"] if e["event_type"] == "action.llm_call"]
    assert llm_bob["cost_status"] == "unpriced", json.dumps(llm_bob)
