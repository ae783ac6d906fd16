"""Event ids, timestamps and value checks shared by the session API."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._log import InvalidArgumentError, logger

MAX_ID_BYTES = 1024
OUTCOME_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)

_id_lock = threading.Lock()
_last_ms = 0
_seq = 0


def new_event_id() -> str:
    """A UUIDv7: time-ordered, so events of one millisecond keep their order."""
    global _last_ms, _seq
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:
                ms += 1
                _seq = 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def new_session_id() -> str:
    return "sess_" + uuid.uuid4().hex


def timestamp(now: datetime | None = None) -> str:
    """RFC3339 in UTC with millisecond precision, as the collector writes times."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def check_id(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InvalidArgumentError(f"{name} is longer than {MAX_ID_BYTES} bytes")
    return value


def check_number(name: str, value: Any, *, minimum: float | None = 0.0) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum:g}, got {value!r}")
    return value


def check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        if isinstance(value, float) and value.is_integer() and value >= 0:
            return int(value)
        raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def clean_metadata(metadata: Any) -> dict[str, str | int | float | bool]:
    """Session metadata as the collector takes it: string, number or bool values.

    ``None`` values and non-finite numbers are left out; any other value is
    sent as its ``str()`` rather than having the collector reject the event.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"metadata must be a dict, got {type(metadata).__name__}")
    out: dict[str, str | int | float | bool] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        k = str(key)
        if isinstance(value, str | bool | int):
            out[k] = value
        elif isinstance(value, float):
            if math.isfinite(value):
                out[k] = value
        else:
            logger.debug("metadata %s is a %s; it is sent as a string", k, type(value).__name__)
            out[k] = str(value)
    return out
