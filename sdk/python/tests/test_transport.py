"""Delivery against a local collector that fails, stalls and answers 429.

No exception may reach the caller; below the queue limit nothing is lost; above
it the drop count is exactly what did not fit.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

import agentpulse

from conftest import sent, wait_for
from fakes import Answer, FakeCollector, free_port

Start = Callable[..., FakeCollector]


def record(n: int, user: str = "u1") -> list[str]:
    """Record n messages; return the order they were recorded in (by content length)."""
    s = agentpulse.session(user)
    for i in range(n):
        s.message("user", "x" * i)
    return [str(i) for i in range(n)]


def lengths(collector: FakeCollector) -> list[int]:
    return [e["properties"]["content_length"] for e in collector.events()]


def test_failures_then_success_lose_nothing(sdk: Start) -> None:
    ap = sdk()
    ap.script = [Answer(500), Answer(502), Answer(503, {"Retry-After": "0"})]
    record(30)
    assert agentpulse.flush(timeout=10)
    assert sorted(lengths(ap)) == list(range(30))
    assert [r.answered for r in ap.requests] == [500, 502, 503, 202]
    # The same batch was retried, byte for byte.
    assert [e["event_id"] for e in ap.requests[0].events] == [e["event_id"] for e in ap.requests[3].events]
    assert agentpulse.stats() == {"queued": 0, "sent": 30, "dropped": 0, "rejected": 0, "failed": 0}


def test_backoff_grows_between_attempts(sdk: Start) -> None:
    ap = sdk()
    ap.script = [Answer(500), Answer(500), Answer(500)]
    record(1)
    assert agentpulse.flush(timeout=10)
    t = [r.at for r in ap.requests]
    gaps = [b - a for a, b in itertools.pairwise(t)]
    # 0.5 s, 1 s, 2 s with +-20 % jitter (plus the time of a request).
    assert 0.4 <= gaps[0] <= 1.2
    assert 0.8 <= gaps[1] <= 2.0
    assert 1.6 <= gaps[2] <= 3.5
    assert gaps[0] < gaps[1] < gaps[2]


def test_429_retry_after_is_honoured(sdk: Start) -> None:
    ap = sdk()
    ap.script = [Answer(429, {"Retry-After": "1"})]
    record(5)
    assert agentpulse.flush(timeout=10)
    first, second = ap.requests
    assert second.at - first.at >= 0.95
    assert sorted(lengths(ap)) == list(range(5))


def test_retry_after_as_http_date(sdk: Start) -> None:
    from email.utils import formatdate

    ap = sdk()
    ap.script = [Answer(503, {"Retry-After": formatdate(time.time() + 2, usegmt=True)})]
    record(1)
    assert agentpulse.flush(timeout=10)
    first, second = ap.requests
    # HTTP dates have whole seconds: at least one second later, at most about two.
    assert 0.9 <= second.at - first.at <= 3.5


def test_stalled_collector_times_out_and_retries(sdk: Start) -> None:
    ap = sdk(timeout_seconds=0.3)
    ap.script = [Answer(stall=2.0)]
    record(10)
    started = time.monotonic()
    assert agentpulse.flush(timeout=10)
    assert time.monotonic() - started < 2.0  # did not wait for the stalled answer
    assert sorted(lengths(ap)) == list(range(10))
    assert len(ap.requests) == 2


def test_collector_down_then_up(collector: FakeCollector) -> None:
    port = free_port()
    late = FakeCollector(port)
    assert agentpulse.init(api_key="ap_prod_x", product="p", base_url=late.url, flush_interval_seconds=0.05)
    try:
        record(20)
        time.sleep(0.8)  # connection refused meanwhile, retried
        assert agentpulse.stats()["queued"] == 20
        late.start()
        assert wait_for(lambda: len(late.events()) == 20, timeout=10)
        assert sorted(lengths(late)) == list(range(20))
    finally:
        agentpulse.shutdown(timeout=2)
        late.stop()


def test_drops_the_oldest_above_the_queue_limit(sdk: Start) -> None:
    ap = sdk(max_queue_size=50)
    record(80)
    assert agentpulse.stats()["dropped"] == 30
    assert agentpulse.stats()["queued"] == 50
    assert agentpulse.flush(timeout=5)
    assert lengths(ap) == list(range(30, 80))


def test_drop_count_while_the_collector_fails(sdk: Start) -> None:
    ap = sdk(max_queue_size=100, flush_interval_seconds=0.05)
    failing = threading.Event()
    failing.set()
    ap.rule = lambda events: Answer(503, {"Retry-After": "0.2"}) if failing.is_set() else None
    s = agentpulse.session("u1")
    for i in range(250):
        s.message("user", "x" * i)
        if i == 10:
            assert wait_for(lambda: len(ap.requests) >= 1)  # a batch is in flight and failing
    stats = agentpulse.stats()
    assert stats["dropped"] == 150
    assert stats["queued"] == 100
    failing.clear()
    assert agentpulse.flush(timeout=10)
    got = lengths(ap)
    assert len(got) == 100 == len(set(got))
    # The batch in flight stays whole; the rest are the newest events.
    in_flight = [e["properties"]["content_length"] for e in ap.requests[0].events]
    assert got[: len(in_flight)] == in_flight
    assert got[len(in_flight) :] == list(range(250 - (100 - len(in_flight)), 250))
    assert agentpulse.stats()["sent"] == 100


def test_nothing_lost_below_the_limit_under_mixed_failures(sdk: Start) -> None:
    ap = sdk(flush_interval_seconds=0.02, timeout_seconds=0.3)
    cycle = [Answer(500), Answer(429, {"Retry-After": "0"}), Answer(stall=0.6), Answer(502), None]
    n = {"i": 0}

    def rule(events: list[dict]) -> Answer | None:
        n["i"] += 1
        return cycle[n["i"] % len(cycle)] if n["i"] < 15 else None

    ap.rule = rule
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            s = agentpulse.session(f"user-{k}")
            for _ in range(100):
                s.message("user", "hello")
                time.sleep(0.001)
        except BaseException as exc:  # the SDK must never raise
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert agentpulse.flush(timeout=30)
    ids = [e["event_id"] for e in ap.events()]
    assert len(set(ids)) == 400
    assert agentpulse.stats()["dropped"] == 0
    statuses = {r.answered for r in ap.requests}
    assert {500, 429, 502, 202} <= statuses


def test_client_errors_drop_the_batch_without_retry(sdk: Start, caplog: pytest.LogCaptureFixture) -> None:
    ap = sdk()
    ap.script = [Answer(400)]
    record(3)
    assert agentpulse.flush(timeout=5)
    assert len(ap.requests) == 1
    assert agentpulse.stats()["failed"] == 3
    assert "collector refused 3 events with 400" in caplog.text
    # The next batch goes through.
    record(2, user="u2")
    assert len(sent(ap)) == 2


def test_unauthorized_is_explained(sdk: Start, caplog: pytest.LogCaptureFixture) -> None:
    ap = sdk(debug=True)
    ap.script = [Answer(401)]
    record(1)
    agentpulse.flush(timeout=5)
    assert "401" in caplog.text
    assert "use the product key (ap_prod_...)" in caplog.text
    assert "ap_prod_test" not in caplog.text  # the key itself is never logged


def test_rejected_events_are_counted_not_retried(sdk: Start, caplog: pytest.LogCaptureFixture) -> None:
    ap = sdk()
    s = agentpulse.session("u1")
    s.message("user", "a")
    s.message("user", "b")
    s.message("user", "c")
    ap.rule = lambda events: Answer(reject={events[1]["event_id"]})
    assert agentpulse.flush(timeout=5)
    assert len(ap.requests) == 1
    assert [e["properties"]["content_length"] for e in ap.events()] == [1, 1]
    assert agentpulse.stats()["rejected"] == 1
    assert agentpulse.stats()["sent"] == 2
    assert "collector rejected 1 of 3 events" in caplog.text


def test_too_large_batches_are_split(sdk: Start) -> None:
    ap = sdk()
    ap.rule = lambda events: Answer(413) if len(events) > 7 else None
    record(30)
    assert agentpulse.flush(timeout=5)
    assert sorted(lengths(ap)) == list(range(30))
    assert all(len(r.events) <= 7 for r in ap.requests if r.answered == 202)


def test_large_batches_are_gzipped(sdk: Start) -> None:
    ap = sdk(track_content=True)
    s = agentpulse.session("u1")
    for _ in range(20):
        s.message("user", "lorem ipsum " * 200)
    assert agentpulse.flush(timeout=5)
    (req,) = ap.requests
    assert req.headers.get("Content-Encoding") == "gzip"
    assert req.raw_size < 20 * 2400 / 4
    assert len(ap.events()) == 20


def test_full_batch_is_sent_without_waiting_for_the_interval(sdk: Start) -> None:
    ap = sdk(flush_interval_seconds=60)
    record(500)
    assert wait_for(lambda: len(ap.events()) == 500, timeout=5)


def test_flush_interval(sdk: Start) -> None:
    ap = sdk(flush_interval_seconds=0.2)
    started = time.monotonic()
    record(3)
    assert wait_for(lambda: len(ap.events()) == 3, timeout=5)
    assert time.monotonic() - started >= 0.15


def test_shutdown_is_bounded(sdk: Start) -> None:
    ap = sdk()
    ap.rule = lambda events: Answer(stall=10.0)
    record(5)
    started = time.monotonic()
    assert agentpulse.shutdown(timeout=1.0) is False
    assert time.monotonic() - started < 2.5
    # Recording after shutdown is a no-op, not an error.
    record(1)


def test_shutdown_delivers_what_is_queued(sdk: Start) -> None:
    ap = sdk()
    record(42)
    assert agentpulse.shutdown(timeout=5) is True
    assert len(ap.events()) == 42


def test_interpreter_exit_flushes(collector: FakeCollector, tmp_path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import agentpulse
            agentpulse.init(api_key="ap_prod_x", product="p", base_url="{collector.url}", flush_interval_seconds=60)
            s = agentpulse.session("u1")
            for i in range(25):
                s.message("user", "x" * i)
            print("done")
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    assert sorted(lengths(collector)) == list(range(25))


def test_unreachable_collector_never_raises_at_exit(tmp_path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import time, agentpulse
            agentpulse.init(api_key="ap_prod_x", product="p", base_url="http://127.0.0.1:{free_port()}")
            s = agentpulse.session("u1")
            s.message("user", "hi")
            t = time.monotonic()
            ok = agentpulse.shutdown(timeout=1)
            print(ok, time.monotonic() - t)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ok, elapsed = out.stdout.split()
    assert ok == "False"
    assert 0.9 <= float(elapsed) < 2.5
    assert "1 events were not delivered" in out.stderr
    assert "Traceback" not in out.stderr


def test_stats_after_shutdown_are_the_final_counts(sdk: Start) -> None:
    sdk(max_queue_size=5)
    record(8)
    assert agentpulse.shutdown(timeout=5)
    assert agentpulse.stats() == {"queued": 0, "sent": 5, "dropped": 3, "rejected": 0, "failed": 0}


def test_forked_child_sends_only_its_own_events(collector: FakeCollector, tmp_path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, agentpulse
            agentpulse.init(api_key="ap_prod_x", product="p", base_url="{collector.url}", flush_interval_seconds=60)
            agentpulse.session("parent").message("user", "p")
            pid = os.fork()
            if pid == 0:
                agentpulse.session("child").message("user", "cc")
                os._exit(0 if agentpulse.shutdown(timeout=5) else 3)
            _, status = os.waitpid(pid, 0)
            print(os.waitstatus_to_exitcode(status), agentpulse.shutdown(timeout=5))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "True"]
    assert sorted((e["user_id"], e["properties"]["content_length"]) for e in collector.events()) == [
        ("child", 2),
        ("parent", 1),
    ]
