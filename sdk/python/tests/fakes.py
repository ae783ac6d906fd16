"""Local HTTP servers for the tests: a collector and an LLM provider.

The provider speaks the OpenAI chat-completions and responses wire formats
and the Anthropic messages format, plain JSON and server-sent events, so the
real ``openai``, ``anthropic`` and LangChain packages can call it with
``base_url`` pointed here. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 run in a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    owner.handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send_json(req: BaseHTTPRequestHandler, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(doc).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    req.end_headers()
    req.wfile.write(data)


# The collector.


@dataclass
class Request:
    at: float
    headers: dict[str, str]
    events: list[dict[str, Any]]
    raw_size: int
    answered: int


@dataclass
class Answer:
    """What the fake collector does with one request."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait, then drop the connection without an answer
    reject: set[str] = field(default_factory=set)  # event ids to reject in a 202


class FakeCollector(_Server):
    """Records every batch; answers from a script, then with 202."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.lock = threading.Lock()
        self.script: list[Answer] = []
        self.rule: Callable[[list[dict[str, Any]]], Answer | None] | None = None
        self.requests: list[Request] = []
        self.accepted: list[dict[str, Any]] = []

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        raw_size = len(body)
        if req.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        events = json.loads(body)["events"]
        with self.lock:
            answer = self.script.pop(0) if self.script else None
            if answer is None and self.rule is not None:
                answer = self.rule(events)
            answer = answer or Answer()
            self.requests.append(Request(time.monotonic(), dict(req.headers), events, raw_size, answer.status))
        if answer.stall:
            time.sleep(answer.stall)
            req.close_connection = True
            return
        if answer.status == 202:
            rejected = [
                {"index": i, "event_id": e["event_id"], "error": "rejected by the test"}
                for i, e in enumerate(events)
                if e["event_id"] in answer.reject
            ]
            with self.lock:
                self.accepted.extend(e for e in events if e["event_id"] not in answer.reject)
            send_json(req, 202, {"accepted": len(events) - len(rejected), "rejected": rejected}, answer.headers)
            return
        code = {429: "overloaded", 400: "invalid_request", 401: "unauthorized", 413: "payload_too_large"}
        send_json(
            req,
            answer.status,
            {"error": {"code": code.get(answer.status, "error"), "message": "scripted by the test"}},
            answer.headers,
        )

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.accepted)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event_type"] == event_type]


# The LLM provider.

CHAT_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0},
}
RESPONSES_USAGE = {
    "input_tokens": 2000,
    "input_tokens_details": {"cached_tokens": 1500, "cache_write_tokens": 0},
    "output_tokens": 500,
    "output_tokens_details": {"reasoning_tokens": 300},
    "total_tokens": 2500,
}
ANTHROPIC_USAGE = {
    "input_tokens": 50,
    "cache_read_input_tokens": 2000,
    "cache_creation_input_tokens": 500,
    "output_tokens": 400,
}


class FakeLLM(_Server):
    """OpenAI- and Anthropic-compatible endpoints with scripted usage and errors."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.chat_usage: dict[str, Any] = copy.deepcopy(CHAT_USAGE)
        self.responses_usage: dict[str, Any] = copy.deepcopy(RESPONSES_USAGE)
        self.anthropic_usage: dict[str, Any] = copy.deepcopy(ANTHROPIC_USAGE)
        self.model: str | None = None  # the model the answer names; the request's when None
        self.errors: list[tuple[int, dict[str, Any]]] = []  # answered before anything else
        self.stream_error_after: int | None = None  # Anthropic: an error event after N deltas
        self.paths: list[str] = []

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        path = req.path.split("?", 1)[0]
        doc = json.loads(body or b"{}")
        with self.lock:
            self.paths.append(path)
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            send_json(req, error[0], error[1])
            return
        model = self.model or doc.get("model", "unknown")
        if path == "/v1/chat/completions":
            self._chat(req, doc, model)
        elif path == "/v1/responses":
            self._responses(req, doc, model)
        elif path == "/v1/messages":
            self._messages(req, doc, model)
        elif path == "/v1/messages/count_tokens":
            send_json(req, 200, {"input_tokens": 42})
        else:
            send_json(req, 404, {"error": {"message": "no such path", "type": "not_found"}})

    # OpenAI chat completions.

    def _chat(self, req: BaseHTTPRequestHandler, doc: dict[str, Any], model: str) -> None:
        base = {"id": "chatcmpl-1", "created": 1767225600, "model": model, "system_fingerprint": "fp_1"}
        if not doc.get("stream"):
            send_json(
                req,
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": self.chat_usage,
                },
            )
            return
        include_usage = bool((doc.get("stream_options") or {}).get("include_usage"))
        chunk = {**base, "object": "chat.completion.chunk"}
        if include_usage:
            chunk["usage"] = None
        deltas = [{"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " there"}]
        events = [
            {**chunk, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]} for d in deltas
        ]
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
        if include_usage:
            events.append({**chunk, "choices": [], "usage": self.chat_usage})
        _sse(req, [(None, e) for e in events] + [(None, "[DONE]")])

    # OpenAI responses.

    def _response(self, model: str, status: str, usage: dict[str, Any] | None, text: str) -> dict[str, Any]:
        output = []
        if status == "completed":
            output = [
                {
                    "type": "message",
                    "id": "msg_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
        return {
            "id": "resp_1",
            "object": "response",
            "created_at": 1767225600,
            "model": model,
            "status": status,
            "output": output,
            "usage": usage,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
        }

    def _responses(self, req: BaseHTTPRequestHandler, doc: dict[str, Any], model: str) -> None:
        if not doc.get("stream"):
            send_json(req, 200, self._response(model, "completed", self.responses_usage, "Hello there"))
            return
        item = {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}
        part = {"type": "output_text", "text": "", "annotations": []}
        seq = iter(range(100))
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": self._response(model, "in_progress", None, "")},
            {"type": "response.in_progress", "response": self._response(model, "in_progress", None, "")},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {
                "type": "response.content_part.added",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "part": part,
            },
        ]
        for delta in ("Hello", " there"):
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": delta,
                    "logprobs": [],
                }
            )
        done_part = {**part, "text": "Hello there"}
        events += [
            {
                "type": "response.output_text.done",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "text": "Hello there",
                "logprobs": [],
            },
            {
                "type": "response.content_part.done",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "part": done_part,
            },
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {**item, "status": "completed", "content": [done_part]},
            },
            {
                "type": "response.completed",
                "response": self._response(model, "completed", self.responses_usage, "Hello there"),
            },
        ]
        for e in events:
            e["sequence_number"] = next(seq)
        _sse(req, [(e["type"], e) for e in events])

    # Anthropic messages.

    def _messages(self, req: BaseHTTPRequestHandler, doc: dict[str, Any], model: str) -> None:
        message = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Hello there"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": self.anthropic_usage,
        }
        if not doc.get("stream"):
            send_json(req, 200, message)
            return
        start_usage = {**self.anthropic_usage, "output_tokens": 1}
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
                },
            ),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        for i, delta in enumerate(("Hello", " there")):
            if self.stream_error_after is not None and i >= self.stream_error_after:
                events.append(
                    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                )
                _sse(req, events)
                return
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}},
                )
            )
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": self.anthropic_usage["output_tokens"]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        _sse(req, events)


def _sse(req: BaseHTTPRequestHandler, events: list[tuple[str | None, Any]]) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "text/event-stream")
    req.send_header("Cache-Control", "no-cache")
    req.send_header("Connection", "close")
    req.end_headers()
    req.close_connection = True
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
        req.wfile.write(frame.encode())
        req.wfile.flush()
