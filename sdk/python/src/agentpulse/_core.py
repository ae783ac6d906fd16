"""The SDK's state: configuration, the sink events go to, and the open sessions."""

from __future__ import annotations

import atexit
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import _log
from ._event import check_id, clean_metadata
from ._log import InvalidArgumentError, logger
from ._session import BUILTIN_STAGES, Session
from ._transport import ConsoleSink, HttpTransport, Sink
from .pricing import PriceTable, default_table

CONSOLE_KEY = "console"
DEFAULT_BASE_URL = "http://localhost:8080"
_STAGE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
_SWEEP_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Config:
    api_key: str
    product: str
    base_url: str
    funnel_stages: tuple[str, ...] = BUILTIN_STAGES
    session_timeout: float = 30 * 60.0
    flush_interval: float = 5.0
    max_queue_size: int = 10_000
    track_content: bool = False
    debug: bool = False
    timeout: float = 10.0
    console: bool = field(default=False)


def make_config(
    *,
    api_key: str | None,
    product: str | None,
    base_url: str | None,
    funnel_stages: Sequence[str] | None,
    session_timeout_minutes: float,
    flush_interval_seconds: float,
    max_queue_size: int,
    track_content: bool,
    debug: bool,
    timeout_seconds: float,
) -> Config:
    """Check every option at once; ``InvalidArgumentError`` lists all problems."""
    problems: list[str] = []
    key = api_key if api_key is not None else os.environ.get("AGENTPULSE_API_KEY")
    if not isinstance(key, str) or not key.strip():
        problems.append("api_key is required (a product key ap_prod_..., or 'console' to print events)")
        key = ""
    prod = product if product is not None else os.environ.get("AGENTPULSE_PRODUCT")
    if not isinstance(prod, str) or not prod.strip():
        problems.append("product is required (the product id the key belongs to)")
        prod = ""
    url = base_url if base_url is not None else os.environ.get("AGENTPULSE_BASE_URL", DEFAULT_BASE_URL)
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"base_url must be an http:// or https:// URL, got {url!r}")
        url = DEFAULT_BASE_URL
    stages = BUILTIN_STAGES if funnel_stages is None else tuple(funnel_stages)
    if isinstance(funnel_stages, str):
        problems.append("funnel_stages must be a list of stage names, not one string")
        stages = BUILTIN_STAGES
    bad = [s for s in stages if not isinstance(s, str) or not _STAGE.fullmatch(s)]
    if bad:
        problems.append(f"funnel_stages must be lowercase slugs such as 'engaged' or 'quote_sent', got {bad!r}")
    elif len(set(stages)) != len(stages) or not stages:
        problems.append(f"funnel_stages must be a non-empty list without repeats, got {list(stages)!r}")

    def positive(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            problems.append(f"{name} must be a number > 0, got {value!r}")
            return 1.0
        return float(value)

    timeout = positive("session_timeout_minutes", session_timeout_minutes) * 60.0
    interval = positive("flush_interval_seconds", flush_interval_seconds)
    request_timeout = positive("timeout_seconds", timeout_seconds)
    if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size < 1:
        problems.append(f"max_queue_size must be an integer >= 1, got {max_queue_size!r}")
        max_queue_size = 10_000
    if problems:
        raise InvalidArgumentError("; ".join(problems))
    return Config(
        api_key=key.strip(),
        product=prod.strip(),
        base_url=url.rstrip("/"),
        funnel_stages=stages,
        session_timeout=timeout,
        flush_interval=interval,
        max_queue_size=max_queue_size,
        track_content=bool(track_content),
        debug=bool(debug),
        timeout=request_timeout,
        console=key.strip() == CONSOLE_KEY,
    )


class _DiscardSink:
    """Before init(): events are counted and discarded, with one warning."""

    def __init__(self) -> None:
        self._warned = False
        self._dropped = 0
        self._lock = threading.Lock()

    def submit(self, event_id: str, data: bytes) -> None:
        with self._lock:
            self._dropped += 1
            warn = not self._warned
            self._warned = True
        if warn:
            logger.warning(
                "agentpulse is not initialized (init() was not called, failed, or shutdown() ran): events are discarded"
            )

    def rearm(self) -> None:
        with self._lock:
            self._warned = False

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"queued": 0, "sent": 0, "dropped": self._dropped, "rejected": 0, "failed": 0}


class Core:
    """One configuration of the SDK: its sink and the users' open sessions."""

    def __init__(self, config: Config, sink: Sink) -> None:
        self.config = config
        self.sink = sink
        self.prices: PriceTable = default_table()
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def session(self, user_id: Any, metadata: Mapping[str, Any] | None = None) -> Session:
        uid = check_id("user_id", user_id)
        md = clean_metadata(metadata)
        with self._lock:
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._sweep()
            current = self._sessions.get(uid)
            if current is not None and not current.is_ended:
                if md:
                    current._update_metadata(md)
                return current
            fresh = Session(self, uid, md)
            self._sessions[uid] = fresh
        logger.debug("new session %s for a user", fresh.id)
        return fresh

    def _sweep(self) -> None:
        for uid in [u for u, s in self._sessions.items() if s.is_ended]:
            del self._sessions[uid]

    def forget(self, session: Session) -> None:
        with self._lock:
            if self._sessions.get(session.user_id) is session:
                del self._sessions[session.user_id]

    def open_sessions(self) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if not s.is_ended)

    def submit(self, event: dict[str, Any], data: bytes) -> None:
        if self.config.debug:
            logger.debug("recorded %s in session %s", event["event_type"], event["session_id"])
        self.sink.submit(event["event_id"], data)


_state_lock = threading.RLock()
_core: Core | None = None
_disabled: Core | None = None
_last_sink: Sink | None = None
_atexit_registered = False
EXIT_TIMEOUT_SECONDS = 5.0


def disabled_core() -> Core:
    global _disabled
    with _state_lock:
        if _disabled is None:
            _disabled = Core(
                Config(api_key="", product="", base_url=DEFAULT_BASE_URL),
                _DiscardSink(),
            )
        return _disabled


def get_core() -> Core:
    core = _core
    return core if core is not None else disabled_core()


def configure(config: Config) -> None:
    global _core, _atexit_registered
    _log.set_debug(config.debug)
    if config.console:
        sink: Sink = ConsoleSink()
    else:
        sink = HttpTransport(
            base_url=config.base_url,
            api_key=config.api_key,
            flush_interval=config.flush_interval,
            max_queue_size=config.max_queue_size,
            request_timeout=config.timeout,
        )
    with _state_lock:
        previous = _core
        _core = Core(config, sink)
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    if previous is not None:
        logger.info("agentpulse.init() called again: the previous configuration is flushed and replaced")
        previous.sink.shutdown(EXIT_TIMEOUT_SECONDS)
    target = "standard output" if config.console else config.base_url
    logger.debug("agentpulse ready: product %s, events go to %s", config.product, target)


def stats() -> dict[str, int]:
    """Counters of the current sink, or of the last one after shutdown()."""
    with _state_lock:
        core = _core
        sink = core.sink if core is not None else _last_sink
    return (sink or disabled_core().sink).stats()


def close(timeout: float, keep_stats: bool = True) -> bool:
    global _core, _last_sink
    with _state_lock:
        core, _core = _core, None
        _last_sink = core.sink if core is not None and keep_stats else None
        # The next event discarded says so again.
        sink = disabled_core().sink
        if isinstance(sink, _DiscardSink):
            sink.rearm()
    if core is None:
        return True
    started = time.monotonic()
    ok = core.sink.shutdown(timeout)
    logger.debug("agentpulse shut down in %.0f ms", (time.monotonic() - started) * 1000)
    return ok


def _at_exit() -> None:
    try:
        close(EXIT_TIMEOUT_SECONDS)
    except Exception as exc:  # never disturb the interpreter's exit
        logger.error("agentpulse shutdown at exit failed: %s: %s", type(exc).__name__, exc)
