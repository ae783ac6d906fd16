"""End to end over OTLP: real OpenTelemetry instrumentations of the real ``openai`` client.

One multi-turn conversation with a tool call (user asks, the model asks for a
tool, the tool runs, the model answers, the user asks again, the model
answers) runs three times against a scripted fake of the OpenAI API, each
time into its own collector (its own product and data directory), so that
``/v1/economics`` of each holds exactly one recording of it:

- instrumented by ``opentelemetry-instrumentation-openai-v2``, messages sent as
  OTel log events, identity from ``gen_ai.conversation.id`` and ``user.id``
  on the turn's parent span;
- instrumented by OpenInference (``openinference-instrumentation-openai``),
  messages and cached tokens on the spans, identity from the
  ``agentpulse.session_id`` / ``agentpulse.user_id`` convention;
- recorded with the agentpulse SDK (``message``, ``llm_call(response)``,
  ``tool_call``).

Both OTLP runs use the OTel SDK's batch processors and OTLP/HTTP (protobuf)
exporters with the product key in ``x-api-key``, and a tool span of the GenAI
conventions (``execute_tool``) made with the OTel API. The expected tokens and
costs are worked out here from the fake server's usage numbers and the rates
of prices.json.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import openai
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceInstrumentor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2Instrumentor
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Tracer

import agentpulse

from conftest import Collector, expected_cost, poll, price_entry, running_collector
from fakes import FakeLLM, send_json

MODEL = "gpt-4o-mini"  # what the application asks for
SNAPSHOT = "gpt-4o-mini-2024-07-18"  # what OpenAI answers with: priced as gpt-4o-mini
TOOL = "get_weather"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": TOOL,
            "description": "Current weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
QUESTION_1 = "What is the weather in Paris today?"
ANSWER_1 = "It is sunny in Paris, 24 °C."
QUESTION_2 = "Should I take sunglasses?"
ANSWER_2 = "Yes, take sunglasses: the sun is strong this afternoon."


@dataclass(frozen=True)
class Step:
    """One scripted answer of the model and the usage it reports."""

    text: str | None
    tool_call: tuple[str, dict[str, Any]] | None  # (call id, arguments)
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


SCRIPT = (
    Step(None, ("call_weather_1", {"city": "Paris"}), prompt_tokens=812, completion_tokens=41),
    Step(ANSWER_1, None, prompt_tokens=1290, completion_tokens=96, cached_tokens=1024),
    Step(ANSWER_2, None, prompt_tokens=1433, completion_tokens=57),
)


def step_cost(step: Step, cached: int) -> float:
    """The cost of one call when ``cached`` of its prompt tokens are known to be cache reads."""
    return expected_cost(MODEL, step.prompt_tokens, step.completion_tokens, cached)


def full_cost(step: Step) -> float:
    """What the call costs: uncached input, cache reads and output, each at its rate."""
    return step_cost(step, step.cached_tokens)


def cost_without_cache(step: Step) -> float:
    """The cost priced from a span that reports the prompt tokens but not which were cache reads."""
    return step_cost(step, 0)


class ScriptedLLM(FakeLLM):
    """The fake OpenAI API answering chat completions from SCRIPT, in order."""

    def __init__(self, script: Sequence[Step]) -> None:
        super().__init__()
        self.model = SNAPSHOT
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []

    def _chat(self, req: BaseHTTPRequestHandler, doc: dict[str, Any], model: str) -> None:
        with self.lock:
            self.requests.append(doc)
            step = self.script.pop(0) if self.script else None
        if step is None:
            send_json(req, 500, {"error": {"message": "the test's script has no more answers", "type": "server_error"}})
            return
        message: dict[str, Any] = {"role": "assistant", "content": step.text, "refusal": None}
        if step.tool_call is not None:
            call_id, arguments = step.tool_call
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": TOOL, "arguments": json.dumps(arguments)}}
            ]
        send_json(
            req,
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_test",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": "tool_calls" if step.tool_call else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": step.prompt_tokens,
                    "completion_tokens": step.completion_tokens,
                    "total_tokens": step.prompt_tokens + step.completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": step.cached_tokens, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
                },
            },
        )


def get_weather(city: str) -> str:
    return json.dumps({"city": city, "sky": "sunny", "celsius": 24})


# What the application does around each step. The OTLP runs record nothing
# themselves (the instrumentation does), apart from the turn and tool spans.


class Recorder:
    def turn(self) -> ContextManager[object]:
        return contextlib.nullcontext()

    def tool(self, name: str, call_id: str) -> ContextManager[object]:
        return contextlib.nullcontext()

    def user(self, text: str) -> None:
        pass

    def llm(self, response: Any) -> None:
        pass

    def agent(self, text: str) -> None:
        pass


class SpanRecorder(Recorder):
    """A parent span per turn carrying the identity, and an execute_tool span per tool run."""

    def __init__(self, tracer: Tracer, identity: dict[str, str]) -> None:
        self.tracer = tracer
        self.identity = identity

    def turn(self) -> ContextManager[object]:
        return self.tracer.start_as_current_span("chat turn", attributes=self.identity)

    def tool(self, name: str, call_id: str) -> ContextManager[object]:
        return self.tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": call_id,
                "gen_ai.tool.type": "function",
            },
        )


class SdkRecorder(Recorder):
    """The same conversation recorded with the agentpulse SDK."""

    def __init__(self, session: agentpulse.Session) -> None:
        self.session = session

    @contextlib.contextmanager
    def tool(self, name: str, call_id: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.session.tool_call(name, duration_ms=(time.monotonic() - started) * 1000)

    def user(self, text: str) -> None:
        self.session.message("user", text)

    def llm(self, response: Any) -> None:
        self.session.llm_call(response)

    def agent(self, text: str) -> None:
        self.session.message("assistant", text)


def converse(client: openai.OpenAI, rec: Recorder) -> None:
    """Two turns: a question answered through a tool call, then a follow-up question."""
    history: list[dict[str, Any]] = []

    def ask(**extra: Any) -> Any:
        response = client.chat.completions.create(model=MODEL, messages=history, **extra)
        rec.llm(response)
        return response.choices[0].message

    with rec.turn():
        history.append({"role": "user", "content": QUESTION_1})
        rec.user(QUESTION_1)
        msg = ask(tools=TOOLS)
        assert msg.tool_calls, f"the script's first answer is a tool call, got {msg}"
        history.append(msg.model_dump(exclude_none=True))
        for call in msg.tool_calls:
            with rec.tool(call.function.name, call.id):
                result = get_weather(**json.loads(call.function.arguments))
            history.append({"role": "tool", "tool_call_id": call.id, "content": result})
        msg = ask(tools=TOOLS)
        assert msg.content == ANSWER_1
        rec.agent(msg.content)
        history.append({"role": "assistant", "content": msg.content})
    with rec.turn():
        history.append({"role": "user", "content": QUESTION_2})
        rec.user(QUESTION_2)
        msg = ask()
        assert msg.content == ANSWER_2
        rec.agent(msg.content)


def run_conversation(rec: Recorder) -> ScriptedLLM:
    with ScriptedLLM(SCRIPT) as llm:
        client = openai.OpenAI(base_url=llm.openai_url, api_key="sk-test", max_retries=0)
        try:
            converse(client, rec)
        finally:
            client.close()
    assert not llm.script, f"{len(llm.script)} scripted answers were never asked for"
    # The tool's result went back to the model with its call id.
    tool_msgs = [m for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_weather_1"]
    return llm


# OTLP export with the OTel SDK, checking that the collector took every batch.


class CheckedSpans(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.results: list[tuple[int, SpanExportResult]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append((len(spans), result))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CheckedLogs(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner
        self.results: list[tuple[int, LogRecordExportResult]] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self.inner.export(batch)
        self.results.append((len(batch), result))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


@dataclass
class Otel:
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    spans: CheckedSpans
    logs: CheckedLogs

    def flush(self) -> None:
        # Logs before spans, as the OTel SDK's default schedule makes common
        # (log batches every 1 s, span batches every 5 s). openai-v2's log
        # records name no session or user: the collector first stores them
        # under the trace's anonymous user and sends them again, with the
        # same ids, under the spans' identity once the spans arrive.
        assert self.logger_provider.force_flush(10_000), "log records not flushed within 10 s"
        assert self.tracer_provider.force_flush(10_000), "spans not flushed within 10 s"
        failed = [r for r in self.spans.results + self.logs.results if r[1].name != "SUCCESS"]
        assert not failed, f"the collector refused OTLP exports (batch size, result): {failed}"


@contextlib.contextmanager
def otel_to(c: Collector) -> Iterator[Otel]:
    """Tracer and logger providers exporting OTLP/HTTP to the collector with its product key."""
    resource = Resource.create({"service.name": "weather-assistant"})
    headers = {"x-api-key": c.product_key}
    spans = CheckedSpans(OTLPSpanExporter(endpoint=c.url + "/v1/traces", headers=headers, timeout=10))
    logs = CheckedLogs(OTLPLogExporter(endpoint=c.url + "/v1/logs", headers=headers, timeout=10))
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(spans))
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(logs))
    try:
        yield Otel(tp, lp, spans, logs)
    finally:
        tp.shutdown()
        lp.shutdown()


@dataclass
class Run:
    collector: Collector
    session_id: str
    user_id: str
    exported_spans: int = 0
    exported_logs: int = 0


def start(tmp_path_factory: pytest.TempPathFactory, product: str) -> ContextManager[Collector]:
    data: Path = tmp_path_factory.mktemp(product)
    return running_collector(data, product)


@pytest.fixture(scope="module")
def openai_v2_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with start(tmp_path_factory, "otel-v2-bot") as c, otel_to(c) as otel:
        run = Run(c, "conv-" + secrets.token_hex(6), "user-" + secrets.token_hex(4))
        identity = {"gen_ai.conversation.id": run.session_id, "user.id": run.user_id}
        with pytest.MonkeyPatch.context() as mp:
            # The instrumentation's latest GenAI conventions, messages sent
            # only as log events (gen_ai.client.inference.operation.details).
            mp.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
            mp.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
            mp.delenv("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", raising=False)
            instrumentor = OpenAIV2Instrumentor()
            instrumentor.instrument(tracer_provider=otel.tracer_provider, logger_provider=otel.logger_provider)
            try:
                run_conversation(SpanRecorder(otel.tracer_provider.get_tracer("weather-assistant"), identity))
            finally:
                instrumentor.uninstrument()
        otel.flush()
        run.exported_spans = sum(n for n, _ in otel.spans.results)
        run.exported_logs = sum(n for n, _ in otel.logs.results)
        yield run


@pytest.fixture(scope="module")
def openinference_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with start(tmp_path_factory, "otel-oi-bot") as c, otel_to(c) as otel:
        run = Run(c, "conv-" + secrets.token_hex(6), "user-" + secrets.token_hex(4))
        instrumentor = OpenInferenceInstrumentor()
        instrumentor.instrument(tracer_provider=otel.tracer_provider)
        try:
            tracer = otel.tracer_provider.get_tracer("weather-assistant")
            identity = {"agentpulse.session_id": run.session_id, "agentpulse.user_id": run.user_id}
            run_conversation(SpanRecorder(tracer, identity))
        finally:
            instrumentor.uninstrument()
        otel.flush()
        run.exported_spans = sum(n for n, _ in otel.spans.results)
        yield run


@pytest.fixture(scope="module")
def sdk_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with start(tmp_path_factory, "sdk-bot") as c:
        user_id = "user-" + secrets.token_hex(4)
        assert agentpulse.init(api_key=c.product_key, product=c.product, base_url=c.url, flush_interval_seconds=0.2)
        try:
            session = agentpulse.session(user_id)
            run_conversation(SdkRecorder(session))
            assert agentpulse.shutdown(timeout=10), "the SDK did not deliver its events within 10 s"
        finally:
            agentpulse.shutdown(timeout=1)
        yield Run(c, session.id, user_id)


# What the query API must show.


def session_detail(run: Run, llm_calls: int) -> dict[str, Any]:
    """The session once all its model calls and messages are in."""
    return poll(
        run.collector,
        f"/v1/sessions/{run.session_id}",
        lambda b: b["llm_calls"] == llm_calls and sum(e["event_type"].startswith("message.") for e in b["events"]) == 4,
    )


def check_conversation(run: Run, body: dict[str, Any], cached_reported: Callable[[Step], int], status: str) -> None:
    """The session summary and events of one recording of SCRIPT.

    ``cached_reported`` is how many of a step's prompt tokens the recording
    says were cache reads; ``status`` the cost_status of the model calls.
    """
    want_cost = sum(step_cost(s, cached_reported(s)) for s in SCRIPT)
    summary = {k: body[k] for k in ("session_id", "user_id", "product_id", "llm_calls", "tool_calls")}
    assert summary == {
        "session_id": run.session_id,
        "user_id": run.user_id,
        "product_id": run.collector.product,
        "llm_calls": len(SCRIPT),
        "tool_calls": 1,
    }, json.dumps(body, indent=1)
    assert body["conversation_depth"] == 2
    assert body["unpriced_llm_calls"] == 0
    assert body["total_cost_usd"] == pytest.approx(want_cost, abs=1e-12)

    events = body["events"]
    assert {(e["session_id"], e["user_id"]) for e in events} == {(run.session_id, run.user_id)}
    assert Counter(e["event_type"] for e in events) == {
        "action.llm_call": 3,
        "action.tool_call": 1,
        "message.user": 2,
        "message.agent": 2,
    }, [e["event_type"] for e in events]
    messages = sorted(
        (e["event_type"], e["properties"]["content_length"]) for e in events if "message." in e["event_type"]
    )
    assert messages == sorted(
        [
            ("message.user", len(QUESTION_1)),
            ("message.agent", len(ANSWER_1)),
            ("message.user", len(QUESTION_2)),
            ("message.agent", len(ANSWER_2)),
        ]
    )
    (tool,) = [e["properties"] for e in events if e["event_type"] == "action.tool_call"]
    assert tool["tool_name"] == TOOL
    assert tool["status"] == "ok"

    # Each model call, matched to its step by its (distinct) prompt size.
    calls = {e["properties"]["input_tokens"]: e["properties"] for e in events if e["event_type"] == "action.llm_call"}
    assert sorted(calls) == sorted(s.prompt_tokens for s in SCRIPT), json.dumps(calls)
    for s in SCRIPT:
        p = calls[s.prompt_tokens]
        got = {k: p.get(k) for k in ("model", "output_tokens", "cost_status")}
        assert got == {"model": SNAPSHOT, "output_tokens": s.completion_tokens, "cost_status": status}, p
        assert p.get("cached_input_tokens", 0) == cached_reported(s), p
        assert p["cost_usd"] == pytest.approx(step_cost(s, cached_reported(s)), abs=1e-12), p


def economics(run: Run, sessions: int = 1) -> dict[str, Any]:
    return poll(run.collector, "/v1/economics", lambda b: b["sessions"] == sessions and b["llm_cost_usd"] > 0)


def test_prices_behind_the_expected_costs() -> None:
    """The arithmetic the other tests rely on, written out once with the table's rates."""
    p = price_entry(MODEL)
    step = SCRIPT[1]
    uncached = step.prompt_tokens - step.cached_tokens
    assert full_cost(step) == pytest.approx(
        (uncached * p["input"] + step.cached_tokens * p["cached_input"] + step.completion_tokens * p["output"]) / 1e6,
        abs=1e-15,
    )
    assert cost_without_cache(step) == pytest.approx(
        (step.prompt_tokens * p["input"] + step.completion_tokens * p["output"]) / 1e6, abs=1e-15
    )
    # A cache discount exists, so the tests below can tell cached pricing apart.
    assert p["cached_input"] < p["input"]


def test_openai_v2_conversation_over_otlp(openai_v2_run: Run) -> None:
    run = openai_v2_run
    # Three model spans, one tool span and two turn spans; one inference
    # details event per model call.
    assert run.exported_spans == 6
    assert run.exported_logs == 3
    body = session_detail(run, len(SCRIPT))
    llm_props = [e["properties"] for e in body["events"] if e["event_type"] == "action.llm_call"]
    for p in llm_props:
        assert (p["provider"], p["request_model"]) == ("openai", MODEL), p
    # opentelemetry-instrumentation-openai-v2 2.4b0 records only
    # usage.prompt_tokens and usage.completion_tokens of a chat completion
    # (patch.py, _set_response_properties), never prompt_tokens_details.
    # cached_tokens: the collector sees no cache reads and prices every
    # prompt token at the input rate.
    check_conversation(run, body, lambda s: 0, "computed")

    econ = economics(run)
    want = sum(cost_without_cache(s) for s in SCRIPT)
    assert econ["sessions"] == 1
    assert econ["unpriced_llm_calls"] == 0
    assert econ["llm_cost_usd"] == pytest.approx(want, abs=1e-12)
    assert econ["tool_cost_usd"] == 0
    assert econ["total_cost_usd"] == pytest.approx(want, abs=1e-12)


def test_openinference_conversation_over_otlp(openinference_run: Run) -> None:
    run = openinference_run
    assert run.exported_spans == 6
    body = session_detail(run, len(SCRIPT))
    check_conversation(run, body, lambda s: s.cached_tokens, "computed")

    econ = economics(run)
    want = sum(full_cost(s) for s in SCRIPT)
    assert econ["sessions"] == 1
    assert econ["unpriced_llm_calls"] == 0
    assert econ["llm_cost_usd"] == pytest.approx(want, abs=1e-12)
    assert econ["total_cost_usd"] == pytest.approx(want, abs=1e-12)


def test_sdk_recording_of_the_conversation(sdk_run: Run) -> None:
    body = session_detail(sdk_run, len(SCRIPT))
    # The SDK prices the calls itself from the response's usage.
    check_conversation(sdk_run, body, lambda s: s.cached_tokens, "reported")


def test_sdk_and_otlp_recordings_give_the_same_economics(
    sdk_run: Run, openinference_run: Run, openai_v2_run: Run
) -> None:
    sdk = economics(sdk_run)
    otlp = economics(openinference_run)
    fields = (
        "sessions",
        "converted_sessions",
        "total_cost_usd",
        "llm_cost_usd",
        "tool_cost_usd",
        "unpriced_llm_calls",
        "cache_savings_usd",
        "total_revenue_usd",
    )
    assert {k: sdk[k] for k in fields} == pytest.approx({k: otlp[k] for k in fields}, abs=1e-12), (sdk, otlp)
    assert sdk["total_cost_usd"] == pytest.approx(sum(full_cost(s) for s in SCRIPT), abs=1e-12)

    # The openai-v2 recording differs from both only by the cache discount it
    # cannot see: the cached prompt tokens priced at the input rate instead of
    # the cached-input rate.
    v2 = economics(openai_v2_run)
    p = price_entry(MODEL)
    discount = sum(s.cached_tokens for s in SCRIPT) * (p["input"] - p["cached_input"]) / 1e6
    assert v2["total_cost_usd"] - sdk["total_cost_usd"] == pytest.approx(discount, abs=1e-12)
    assert {k: v2[k] for k in ("sessions", "unpriced_llm_calls", "tool_cost_usd")} == {
        k: sdk[k] for k in ("sessions", "unpriced_llm_calls", "tool_cost_usd")
    }
