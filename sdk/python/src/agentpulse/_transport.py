"""Delivery of events: a bounded queue drained by a background thread.

Events are serialized when they are recorded, queued, and posted in batches
to ``POST {base_url}/v1/events`` every ``flush_interval_seconds`` or as soon
as a batch is full. Network errors, ``429`` and ``5xx`` are retried with
exponential backoff (``Retry-After`` wins when the collector sends it); the
batch in flight stays in the queue meanwhile, so the queue limit is the only
place where events are lost, and each loss is counted.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import os
import random
import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ._log import logger
from ._version import __version__

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
GZIP_ABOVE_BYTES = 16 * 1024
MAX_RETRY_AFTER_SECONDS = 300.0
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
DROP_WARNING_INTERVAL_SECONDS = 30.0


def encode_event(event: dict[str, Any]) -> bytes:
    """Serialize one event; ``ValueError`` for values JSON cannot carry (NaN)."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: escaped, the collector turns them into U+FFFD.
        return json.dumps(event, separators=(",", ":"), allow_nan=False).encode("ascii")


class Sink(Protocol):
    """Where recorded events go."""

    def submit(self, event_id: str, data: bytes) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def shutdown(self, timeout: float) -> bool: ...

    def stats(self) -> dict[str, int]: ...


class ConsoleSink:
    """Prints each event as one JSON line on standard output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._printed = 0

    def submit(self, event_id: str, data: bytes) -> None:
        line = data.decode("utf-8")
        with self._lock:
            # sys.stdout is looked up each time so that redirections apply.
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            self._printed += 1

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"queued": 0, "sent": self._printed, "dropped": 0, "rejected": 0, "failed": 0}


@dataclass(slots=True)
class _Item:
    event_id: str
    data: bytes


@dataclass(slots=True)
class _Result:
    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    retry: bool = False
    retry_after: float | None = None
    split: bool = False
    reason: str = ""


class HttpTransport:
    """Batches events and posts them to the collector from a daemon thread."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        flush_interval: float,
        max_queue_size: int,
        request_timeout: float,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._url = base_url.rstrip("/") + "/v1/events"
        self._api_key = api_key
        self._flush_interval = flush_interval
        self._max_queue = max_queue_size
        self._request_timeout = request_timeout
        self._max_batch_events = max_batch_events
        self._max_batch_bytes = max_batch_bytes
        self._client: httpx.Client | None = None
        self._reset_state()
        # Made here, in init(), so that the thread never imports anything: a
        # fork while another thread is importing leaves the child a
        # half-initialized module.
        self._client = self._new_client()
        weak = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m())

    def _reset_state(self) -> None:
        self._cv = threading.Condition()
        self._pending: deque[_Item] = deque()
        self._inflight: list[_Item] | None = None
        self._thread: threading.Thread | None = None
        self._client = None
        self._closing = False
        self._closed = False
        self._deadline = 0.0
        self._flush_waiters = 0
        self._next_flush_at = 0.0
        self._retry_at = 0.0
        self._attempts = 0
        self._sent = 0
        self._dropped = 0
        self._rejected = 0
        self._failed = 0
        self._last_drop_warning = 0.0
        self._drops_since_warning = 0

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._request_timeout,
            headers={"User-Agent": f"agentpulse-python/{__version__}"},
        )

    def _after_fork(self) -> None:
        # The child has no sender thread, and what the parent had queued is the
        # parent's to send.
        self._reset_state()

    # Producer side.

    def submit(self, event_id: str, data: bytes) -> None:
        with self._cv:
            if self._closing or self._closed:
                self._dropped += 1
                logger.debug("event %s recorded after shutdown() was dropped", event_id)
                return
            if self._thread is None:
                self._start()
            if len(self._pending) + len(self._inflight or ()) >= self._max_queue:
                self._count_drop()
                if not self._pending:
                    # Everything queued is in flight: the new event is the one lost.
                    return
                # The oldest event waiting to be sent goes; a batch already in
                # flight is never torn apart.
                self._pending.popleft()
            now = time.monotonic()
            if not self._pending and self._inflight is None and self._next_flush_at < now:
                self._next_flush_at = now + self._flush_interval
            self._pending.append(_Item(event_id, data))
            if len(self._pending) == 1 or len(self._pending) >= self._max_batch_events:
                self._cv.notify_all()

    def _count_drop(self) -> None:
        # Called with the lock held.
        self._dropped += 1
        self._drops_since_warning += 1
        now = time.monotonic()
        if now - self._last_drop_warning >= DROP_WARNING_INTERVAL_SECONDS:
            logger.warning(
                "event queue is full (max_queue_size=%d): dropped %d oldest events (%d in total); "
                "the collector is unreachable or slower than the application, raise max_queue_size "
                "to buffer more",
                self._max_queue,
                self._drops_since_warning,
                self._dropped,
            )
            self._last_drop_warning = now
            self._drops_since_warning = 0

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="agentpulse-sender", daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Send everything queued; False when the deadline passed first."""
        deadline = time.monotonic() + timeout
        with self._cv:
            if self._thread is None:
                return not self._pending
            self._flush_waiters += 1
            self._cv.notify_all()
            try:
                while self._pending or self._inflight is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cv.wait(left)
                return True
            finally:
                self._flush_waiters -= 1

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout`` seconds and stop the sender thread."""
        with self._cv:
            if self._closed:
                return not self._pending and self._inflight is None
            self._closing = True
            self._deadline = time.monotonic() + timeout
            thread = self._thread
            self._cv.notify_all()
        if thread is not None:
            # The request in flight is bounded by the same deadline.
            thread.join(timeout + 1.0)
        elif self._client is not None:
            self._client.close()
            self._client = None
        with self._cv:
            self._closed = True
            left = len(self._pending) + len(self._inflight or ())
            if left:
                self._failed += left
                logger.warning(
                    "shutdown: %d events were not delivered within %.1f s and are lost",
                    left,
                    timeout,
                )
                self._pending.clear()
                self._inflight = None
            self._cv.notify_all()
        return left == 0

    def stats(self) -> dict[str, int]:
        with self._cv:
            return {
                "queued": len(self._pending) + len(self._inflight or ()),
                "sent": self._sent,
                "dropped": self._dropped,
                "rejected": self._rejected,
                "failed": self._failed,
            }

    # Sender side.

    def _run(self) -> None:
        try:
            if self._client is None:  # a forked child
                self._client = self._new_client()
            while True:
                batch, timeout = self._next_batch()
                if batch is None:
                    return
                result = self._post(batch, timeout)
                self._settle(batch, result)
        except Exception as exc:  # a bug here must not go unnoticed, nor kill the host
            logger.error("the sender thread stopped: %s: %s", type(exc).__name__, exc, exc_info=exc)
        finally:
            client, self._client = self._client, None
            if client is not None:
                client.close()
            with self._cv:
                self._cv.notify_all()

    def _next_batch(self) -> tuple[list[_Item] | None, float]:
        with self._cv:
            while True:
                now = time.monotonic()
                if self._closing and now >= self._deadline:
                    return None, 0.0
                if self._inflight is None and self._pending:
                    due = (
                        self._closing
                        or self._flush_waiters > 0
                        or len(self._pending) >= self._max_batch_events
                        or now >= self._next_flush_at
                    )
                    if due:
                        self._inflight = self._take()
                        self._attempts = 0
                        if now >= self._next_flush_at:
                            self._next_flush_at = now + self._flush_interval
                if self._inflight is not None:
                    if now >= self._retry_at:
                        timeout = self._request_timeout
                        if self._closing:
                            timeout = max(min(timeout, self._deadline - now), 0.05)
                        return self._inflight, timeout
                    wake: float | None = self._retry_at
                elif self._closing:
                    return None, 0.0
                elif self._pending:
                    wake = self._next_flush_at
                else:
                    self._cv.notify_all()  # flush() waiters: nothing is left
                    wake = None
                if self._closing:
                    wake = self._deadline if wake is None else min(wake, self._deadline)
                self._cv.wait(None if wake is None else max(wake - now, 0.0))

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        size = 0
        while self._pending and len(batch) < self._max_batch_events:
            item = self._pending[0]
            if batch and size + len(item.data) + 1 > self._max_batch_bytes:
                break
            batch.append(self._pending.popleft())
            size += len(item.data) + 1
        return batch

    def _settle(self, batch: list[_Item], result: _Result) -> None:
        with self._cv:
            self._sent += result.delivered
            self._rejected += result.rejected
            self._failed += result.failed
            if result.split:
                half = len(batch) // 2
                self._pending.extendleft(reversed(batch[half:]))
                self._inflight = batch[:half]
                self._retry_at = 0.0
            elif result.retry:
                self._attempts += 1
                delay = result.retry_after
                if delay is None:
                    delay = min(BACKOFF_INITIAL_SECONDS * 2 ** (self._attempts - 1), BACKOFF_MAX_SECONDS)
                    delay *= random.uniform(0.8, 1.2)
                self._retry_at = time.monotonic() + delay
                log = logger.warning if self._attempts == 1 else logger.debug
                log(
                    "could not deliver %d events (%s); attempt %d, retrying in %.1f s",
                    len(batch),
                    result.reason,
                    self._attempts,
                    delay,
                )
            else:
                if self._attempts > 0:
                    logger.info("delivered %d events after %d retries", len(batch), self._attempts)
                self._inflight = None
                self._attempts = 0
                self._retry_at = 0.0
            self._cv.notify_all()

    def _post(self, batch: list[_Item], timeout: float) -> _Result:
        body = b'{"events":[' + b",".join(item.data for item in batch) + b"]}"
        headers = {"Content-Type": "application/json", "X-API-Key": self._api_key}
        if len(body) > GZIP_ABOVE_BYTES:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        assert self._client is not None
        started = time.monotonic()
        try:
            resp = self._client.post(self._url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return _Result(retry=True, reason=f"no answer from {self._url} within {timeout:.1f} s")
        except httpx.TransportError as exc:
            return _Result(retry=True, reason=f"{type(exc).__name__} reaching {self._url}: {exc}")
        elapsed_ms = (time.monotonic() - started) * 1000
        return self._read_answer(batch, resp, elapsed_ms)

    def _read_answer(self, batch: list[_Item], resp: httpx.Response, elapsed_ms: float) -> _Result:
        status = resp.status_code
        if 200 <= status < 300:
            rejected = _rejections(resp)
            for r in rejected:
                logger.debug("collector rejected event %s: %s", r.get("event_id"), r.get("error"))
            if rejected:
                logger.warning(
                    "collector rejected %d of %d events; first reason: %s",
                    len(rejected),
                    len(batch),
                    rejected[0].get("error"),
                )
            logger.debug("delivered %d events in %.0f ms", len(batch) - len(rejected), elapsed_ms)
            return _Result(delivered=len(batch) - len(rejected), rejected=len(rejected))
        message = _error_message(resp)
        if status == 429 or status >= 500:
            return _Result(
                retry=True,
                retry_after=_retry_after(resp),
                reason=f"collector answered {status}: {message}",
            )
        if status == 413 and len(batch) > 1:
            logger.debug("collector refused a batch of %d events as too large; splitting it", len(batch))
            return _Result(split=True)
        logger.error(
            "collector refused %d events with %d: %s; they are dropped. %s",
            len(batch),
            status,
            message,
            _explain(status),
        )
        return _Result(failed=len(batch))


def _rejections(resp: httpx.Response) -> list[dict[str, Any]]:
    try:
        doc = resp.json()
    except ValueError:
        return []
    rejected = doc.get("rejected") if isinstance(doc, dict) else None
    if not isinstance(rejected, list):
        return []
    return [r for r in rejected if isinstance(r, dict)]


def _error_message(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
        err = doc["error"]
        return f"{err.get('code')}: {err.get('message')}"
    except (ValueError, KeyError, TypeError, AttributeError):
        text = resp.text.strip().replace("\n", " ")
        return text[:200] or resp.reason_phrase


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _explain(status: int) -> str:
    if status == 401:
        return "The api_key is missing or unknown to the collector: use the product key (ap_prod_...)."
    if status == 403:
        return (
            "The key may not write these events: a dashboard key (ap_dash_...) cannot ingest, and a "
            "product key only writes its own product (check the product passed to init())."
        )
    if status == 404:
        return "base_url does not point at an AgentPulse collector (no /v1/events there)."
    if status == 413:
        return "A single event is larger than the collector's request limit."
    if status == 415:
        return "The collector does not accept this content encoding."
    return "The events themselves are invalid; the message above says why."
