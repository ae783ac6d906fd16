from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import agentpulse

from fakes import FakeCollector, FakeLLM, free_port

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


# The real collector binary, for the end-to-end tests. It is built by ``make
# build`` (the tests build nothing); its path comes from
# ``AGENTPULSE_COLLECTOR_BIN`` (default ``<repo>/bin/agentpulse``). A missing
# binary is a failure, not a skip.

START_DEADLINE_SECONDS = 90.0
QUERY_DEADLINE_SECONDS = 30.0


@dataclass
class Collector:
    """A running collector: its address, its one product and that product's key."""

    url: str
    product: str
    product_key: str
    log: Path

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, headers={"X-API-Key": self.product_key}, timeout=10)


def chdb_lib() -> str:
    path = os.environ.get("CHDB_LIB_PATH")
    if path:
        return path
    out = subprocess.run([str(REPO / "scripts" / "chdb-lib.sh")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"scripts/chdb-lib.sh failed, set CHDB_LIB_PATH: {out.stderr}"
    return out.stdout.strip()


@contextlib.contextmanager
def running_collector(data: Path, product: str) -> Iterator[Collector]:
    """Start the collector binary with config/quickstart.yaml on a free port.

    ``data`` is its data directory (store, queue and log); ``product`` is the
    product of its generated product key. Returns once ``/healthz`` says every
    pipeline has started; the process is stopped with SIGTERM on exit.
    """
    binary = Path(os.environ.get("AGENTPULSE_COLLECTOR_BIN") or REPO / "bin" / "agentpulse")
    if not binary.is_file():
        pytest.fail(
            f"collector binary not found at {binary}: run `make build` first, or point AGENTPULSE_COLLECTOR_BIN at it"
        )
    log = data / "collector.log"
    port = free_port()
    product_key = "ap_prod_" + secrets.token_hex(16)
    env = {
        **os.environ,
        "AGENTPULSE_ADDR": f"127.0.0.1:{port}",
        # Its OTLP/gRPC receiver too, so that collectors can run side by side.
        "AGENTPULSE_OTLP_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "AGENTPULSE_DATA_DIR": str(data),
        "AGENTPULSE_PRODUCT": product,
        "AGENTPULSE_PRODUCT_KEY": product_key,
        "AGENTPULSE_DASHBOARD_KEY": "ap_dash_" + secrets.token_hex(16),
        "CHDB_LIB_PATH": chdb_lib(),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--config", str(REPO / "config" / "quickstart.yaml")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data,
        )
    c = Collector(f"http://127.0.0.1:{port}", product, product_key, log)
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"collector exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                # /healthz answers 200 once every pipeline, and so the
                # ingest route, has started.
                if c.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"collector not ready within {START_DEADLINE_SECONDS:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield c
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def poll(c: Collector, path: str, done: Callable[[Any], bool], **params: Any) -> dict[str, Any]:
    """GET until done(body) holds; fail with the last answer at the deadline."""
    deadline = time.monotonic() + QUERY_DEADLINE_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        resp = c.get(path, **params)
        last = (resp.status_code, resp.text)
        if resp.status_code == 200 and done(resp.json()):
            return resp.json()
        time.sleep(0.25)
    pytest.fail(f"GET {path} never showed the expected answer; last: {last}\n{c.log.read_text()[-3000:]}")
