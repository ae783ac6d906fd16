"""AgentPulse: product analytics for AI agents.

.. code-block:: python

    import agentpulse

    agentpulse.init(api_key="ap_prod_...", product="my-bot", base_url="http://localhost:8080")
    session = agentpulse.session(user_id="user-42")
    session.message("user", "Can you draft a rental contract?")
    session.llm_call(response)  # an OpenAI or Anthropic response: model, tokens, cost
    session.payment(49.0, "USD")

No call of this package raises into the application: what cannot be recorded
is logged on the ``agentpulse`` logger and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _core, pricing
from ._instrument import instrument
from ._log import InvalidArgumentError, guarded, logger
from ._session import Session, ToolTimer, current_session
from ._version import __version__

__all__ = [
    "Session",
    "ToolTimer",
    "__version__",
    "current_session",
    "flush",
    "init",
    "instrument",
    "pricing",
    "session",
    "shutdown",
    "stats",
]


def init(
    api_key: str | None = None,
    product: str | None = None,
    base_url: str | None = None,
    funnel_stages: Sequence[str] | None = None,
    session_timeout_minutes: float = 30,
    flush_interval_seconds: float = 5.0,
    max_queue_size: int = 10_000,
    track_content: bool = False,
    debug: bool = False,
    *,
    timeout_seconds: float = 10.0,
) -> bool:
    """Configure the SDK; call it once at start-up. Returns False when the options are invalid.

    Args:
        api_key: the product key (``ap_prod_...``), default ``$AGENTPULSE_API_KEY``.
            ``"console"`` prints every event as a JSON line on standard output
            instead of sending it.
        product: the product id the key belongs to, default ``$AGENTPULSE_PRODUCT``.
        base_url: the collector, default ``$AGENTPULSE_BASE_URL`` or
            ``http://localhost:8080``; events go to ``{base_url}/v1/events``.
        funnel_stages: the product's funnel, as configured on the collector
            (default ``reached, engaged, artifact, converted``); used for
            :attr:`Session.funnel_stage`.
        session_timeout_minutes: inactivity after which a user's next
            :func:`session` call starts a new session.
        flush_interval_seconds: how often queued events are sent (a full batch
            of 500 is sent at once).
        max_queue_size: events kept while the collector cannot be reached;
            beyond it the oldest are dropped and counted in :func:`stats`.
        track_content: send message text; otherwise only its length.
        debug: log every event recorded and explain every failure.
        timeout_seconds: time limit of one request to the collector.

    Invalid options are logged (all of them at once) and leave the SDK
    disabled: events are then discarded, nothing raises.
    """
    try:
        config = _core.make_config(
            api_key=api_key,
            product=product,
            base_url=base_url,
            funnel_stages=funnel_stages,
            session_timeout_minutes=session_timeout_minutes,
            flush_interval_seconds=flush_interval_seconds,
            max_queue_size=max_queue_size,
            track_content=track_content,
            debug=debug,
            timeout_seconds=timeout_seconds,
        )
        _core.configure(config)
    except InvalidArgumentError as exc:
        logger.error("agentpulse.init(): %s; the SDK is disabled and events are discarded", exc)
        _core.close(0.0, keep_stats=False)
        return False
    except Exception as exc:
        logger.error("agentpulse.init() failed: %s: %s; events are discarded", type(exc).__name__, exc)
        return False
    return True


def session(user_id: str, metadata: Mapping[str, Any] | None = None) -> Session:
    """Return the user's open session, or start a new one.

    A new session starts on the first call for a user, after
    ``session_timeout_minutes`` without events, or after :meth:`Session.end`.
    ``metadata`` (string, number or bool values, such as ``channel`` or
    ``topic``) is sent with the session's next event; later values win.
    Safe to call from many threads and asyncio tasks at once: they all get
    the same session.
    """
    core = _core.get_core()
    try:
        return core.session(user_id, metadata)
    except InvalidArgumentError as exc:
        logger.error("agentpulse.session(): %s; the session records nothing", exc)
    except Exception as exc:
        logger.error("agentpulse.session() failed: %s: %s; the session records nothing", type(exc).__name__, exc)
    # A session whose events go nowhere, so that the caller's code runs on.
    return Session(_core.disabled_core(), str(user_id))


@guarded(False)
def flush(timeout: float = 5.0) -> bool:
    """Send every queued event now; False if some were still queued after ``timeout`` seconds."""
    return _core.get_core().sink.flush(timeout)


@guarded(False)
def shutdown(timeout: float = 5.0) -> bool:
    """Flush and stop sending, within ``timeout`` seconds; also runs at interpreter exit.

    Returns False when events were left undelivered (they are logged and
    counted). Events recorded afterwards are discarded until :func:`init`
    is called again.
    """
    return _core.close(timeout)


@guarded({})
def stats() -> dict[str, int]:
    """Delivery counters: ``queued``, ``sent``, ``dropped`` (queue full), ``rejected``, ``failed``.

    After :func:`shutdown` they are the final counts of the configuration it
    closed; before :func:`init` they count the events discarded.
    """
    return _core.stats()
