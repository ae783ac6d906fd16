from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import agentpulse

from fakes import FakeCollector, FakeLLM

REPO = Path(__file__).resolve().parents[3]
PRICES_JSON = REPO / "internal" / "pricing" / "prices.json"
API_FIELDS = {"event_id", "session_id", "event_type", "timestamp", "user_id", "product_id", "metadata", "properties"}


def price_entry(name: str) -> dict[str, Any]:
    """The entry of prices.json whose model or alias is exactly ``name``."""
    for m in json.loads(PRICES_JSON.read_text())["models"]:
        if m["model"] == name or name in (m.get("aliases") or []):
            return m
    raise KeyError(name)


def expected_cost(entry_name: str, inp: int, out: int, cached: int = 0, creation: int = 0) -> float:
    """The contract's formula, written out: uncached input, cache reads, cache writes, output."""
    p = price_entry(entry_name)
    cached_rate = p.get("cached_input") or p["input"]
    write_rate = p.get("cache_write") or p["input"]
    return (
        (inp - cached - creation) * p["input"] + cached * cached_rate + creation * write_rate + out * p["output"]
    ) / 1e6


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with FakeCollector() as c:
        yield c


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as s:
        yield s


@pytest.fixture
def sdk(collector: FakeCollector) -> Iterator[Callable[..., FakeCollector]]:
    """init() against the fake collector; returns a function that flushes and returns it."""
    options: dict[str, Any] = {
        "api_key": "ap_prod_test",
        "product": "test-bot",
        "base_url": collector.url,
        "flush_interval_seconds": 60.0,
    }

    def start(**overrides: Any) -> FakeCollector:
        assert agentpulse.init(**{**options, **overrides})
        return collector

    yield start
    agentpulse.shutdown(timeout=2.0)


@pytest.fixture
def ap(sdk: Callable[..., FakeCollector]) -> FakeCollector:
    return sdk()


def sent(collector: FakeCollector, event_type: str | None = None) -> list[dict[str, Any]]:
    """Flush the SDK and return what the collector got."""
    assert agentpulse.flush(timeout=5.0)
    events = collector.events()
    return [e for e in events if event_type is None or e["event_type"] == event_type]


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture(autouse=True)
def _agentpulse_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agentpulse")
