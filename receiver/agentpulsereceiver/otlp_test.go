package agentpulsereceiver

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentpulse/agentpulse/internal/event"
)

// The fixtures of public instrumentations are read in place and are not
// shipped with the repository.
const otlpFixtures = "../../../shared/fixtures/otlp"

func loadFixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(otlpFixtures, name))
	if os.IsNotExist(err) {
		t.Skipf("OTLP fixtures are not present at %s (they live beside the repository, not in it)", otlpFixtures)
	}
	require.NoError(t, err)
	return raw
}

func postRaw(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-API-Key", productKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

func TestOTLPTracesJSONAndProtobuf(t *testing.T) {
	raw := loadFixture(t, "openinference-phoenix-pxi-agent-turn-llm-tool-loop.json")
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	require.NoError(t, err)
	// The payload's LLM and TOOL spans, counted from their attributes.
	var llm, tools int
	spanIDs := map[string]bool{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				kind, _ := sp.Attributes().Get("openinference.span.kind")
				switch kind.Str() {
				case "LLM":
					llm++
					spanIDs[sp.SpanID().String()] = true
				case "TOOL":
					tools++
					spanIDs[sp.SpanID().String()] = true
				}
			}
		}
	}
	require.Positive(t, llm)

	sink := new(consumertest.LogsSink)
	base := strings.TrimSuffix(startReceiver(t, sink, nil), "/v1/events")
	status, body := postRaw(t, base+"/v1/traces", "application/json", raw)
	require.Equal(t, http.StatusOK, status, "%s", body)
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalJSON(body))

	count := func() (int, int, map[string]bool) {
		var l, tl int
		ids := map[string]bool{}
		for _, e := range records(sink) {
			assert.Equal(t, "my-bot", e.ProductID, "the key's product wins")
			switch e.EventType {
			case "action.llm_call":
				l++
				ids[e.EventID] = true
			case "action.tool_call":
				tl++
				ids[e.EventID] = true
			}
		}
		return l, tl, ids
	}
	gotLLM, gotTools, ids := count()
	assert.Equal(t, llm, gotLLM)
	assert.Equal(t, tools, gotTools)
	assert.Len(t, ids, len(spanIDs), "one call event per span")

	// The same payload as protobuf maps to the same events.
	pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	sink.Reset()
	status, body = postRaw(t, base+"/v1/traces", "application/x-protobuf", pb)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.NoError(t, resp.UnmarshalProto(body))
	gotLLM2, gotTools2, ids2 := count()
	assert.Equal(t, gotLLM, gotLLM2)
	assert.Equal(t, gotTools, gotTools2)
	assert.Equal(t, ids, ids2)

	status, body = postRaw(t, base+"/v1/traces", "application/x-protobuf", []byte("\xff\xffnot protobuf"))
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
	status, _ = postRaw(t, base+"/v1/traces", "text/plain", raw)
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
}

// chatTrace is one chat span naming its user, and the log record of its
// user message, as openai-v2 sends them.
func chatTrace(traceID pcommon.TraceID, spanID pcommon.SpanID) (traces, logs []byte, err error) {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(spanID)
	sp.SetName("chat gpt-4o-mini")
	sp.SetStartTimestamp(pcommon.Timestamp(1_772_800_000_000_000_000))
	sp.SetEndTimestamp(pcommon.Timestamp(1_772_800_001_000_000_000))
	sp.Attributes().PutStr("gen_ai.operation.name", "chat")
	sp.Attributes().PutStr("gen_ai.system", "openai")
	sp.Attributes().PutStr("gen_ai.request.model", "gpt-4o-mini")
	sp.Attributes().PutInt("gen_ai.usage.input_tokens", 12)
	sp.Attributes().PutInt("gen_ai.usage.output_tokens", 7)
	sp.Attributes().PutStr("user.id", "u-42")
	if traces, err = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto(); err != nil {
		return nil, nil, err
	}

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.SetEventName("gen_ai.user.message")
	lr.SetTimestamp(pcommon.Timestamp(1_772_800_000_000_000_000))
	lr.Body().SetEmptyMap().PutStr("content", "What is the weather in Lisbon?")
	logs, err = plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	return traces, logs, err
}

func messages(sink *consumertest.LogsSink) []event.Event {
	var out []event.Event
	for _, e := range records(sink) {
		if e.EventType == "message.user" {
			out = append(out, e)
		}
	}
	return out
}

func TestOTLPLogsJoinTheirTracesUser(t *testing.T) {
	sink := new(consumertest.LogsSink)
	base := strings.TrimSuffix(startReceiver(t, sink, nil), "/v1/events")

	// Spans first: the log record takes the user of its trace's spans.
	traces, logs, err := chatTrace(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	require.NoError(t, err)
	status, body := postRaw(t, base+"/v1/traces", "application/x-protobuf", traces)
	require.Equal(t, http.StatusOK, status, "%s", body)
	sink.Reset()
	status, body = postRaw(t, base+"/v1/logs", "application/x-protobuf", logs)
	require.Equal(t, http.StatusOK, status, "%s", body)
	got := records(sink)
	require.Len(t, got, 1)
	assert.Equal(t, "message.user", got[0].EventType)
	assert.Equal(t, "u-42", got[0].UserID, "the log record takes its trace's user")
	assert.EqualValues(t, len("What is the weather in Lisbon?"), got[0].Properties["content_length"])

	// Logs first (the OTel SDK sends log batches more often than span
	// batches): the message goes out under the trace's anonymous user, and
	// again, with the same id, under the real user once the spans come.
	traceID := pcommon.TraceID{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}
	traces, logs, err = chatTrace(traceID, pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2})
	require.NoError(t, err)
	sink.Reset()
	status, body = postRaw(t, base+"/v1/logs", "application/x-protobuf", logs)
	require.Equal(t, http.StatusOK, status, "%s", body)
	early := messages(sink)
	require.Len(t, early, 1)
	assert.Equal(t, "anonymous:"+traceID.String(), early[0].UserID)

	sink.Reset()
	status, body = postRaw(t, base+"/v1/traces", "application/x-protobuf", traces)
	require.Equal(t, http.StatusOK, status, "%s", body)
	again := messages(sink)
	require.Len(t, again, 1)
	assert.Equal(t, early[0].EventID, again[0].EventID, "the same event, so it replaces the first copy")
	assert.Equal(t, "u-42", again[0].UserID)

	// Only once: a resent span batch does not send the message again.
	sink.Reset()
	status, _ = postRaw(t, base+"/v1/traces", "application/x-protobuf", traces)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, messages(sink))
}

func TestOTLPSpansOutsideTheBoundsAreRejected(t *testing.T) {
	sink := new(consumertest.LogsSink)
	base := strings.TrimSuffix(startReceiver(t, sink, nil), "/v1/events")
	now := uint64(time.Now().UnixNano())

	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	chat := func(name string, span byte, start uint64, tokens int64) ptrace.Span {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7})
		sp.SetSpanID(pcommon.SpanID{span, 1, 1, 1, 1, 1, 1, 1})
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.Timestamp(start))
		sp.SetEndTimestamp(pcommon.Timestamp(start + 1e9))
		sp.Attributes().PutStr("gen_ai.operation.name", "chat")
		sp.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
		sp.Attributes().PutInt("gen_ai.usage.input_tokens", tokens)
		sp.Attributes().PutInt("gen_ai.usage.output_tokens", 10)
		sp.Attributes().PutStr("user.id", "u-1")
		return sp
	}
	chat("valid", 1, now-60e9, 100)
	chat("too many tokens", 2, now-60e9, 1<<62)
	chat("far future", 3, now+72*3600e9, 100)
	chat("time overflow", 4, 1<<63, 100)
	noIDs := chat("no ids", 5, now-60e9, 100)
	noIDs.SetTraceID(pcommon.TraceID{})
	noIDs.SetSpanID(pcommon.SpanID{})

	pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	status, body := postRaw(t, base+"/v1/traces", "application/x-protobuf", pb)
	require.Equal(t, http.StatusOK, status, "%s", body)
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalProto(body))
	assert.EqualValues(t, 4, resp.PartialSuccess().RejectedSpans())
	for _, want := range []string{"input_tokens must be a non-negative integer up to", "ahead of the server clock", "outside the years 1900 to 2299"} {
		assert.Contains(t, resp.PartialSuccess().ErrorMessage(), want)
	}

	got := records(sink)
	require.Len(t, got, 1, "only the valid span's call is passed on")
	assert.Equal(t, int64(100), got[0].Properties["input_tokens"])
}

// A parent "turn" span carrying agentpulse.session_id and user_id ends, and
// so is exported, after its child model span: in another request when the
// SDK exports each span as it ends.
func TestOTLPChildSpanTakesItsParentsIdentityFromAnotherRequest(t *testing.T) {
	sink := new(consumertest.LogsSink)
	base := strings.TrimSuffix(startReceiver(t, sink, nil), "/v1/events")
	traceID := pcommon.TraceID{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
	parentID := pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	start := uint64(time.Now().Add(-time.Minute).UnixNano())

	send := func(build func(ptrace.Span)) {
		td := ptrace.NewTraces()
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(traceID)
		sp.SetStartTimestamp(pcommon.Timestamp(start))
		sp.SetEndTimestamp(pcommon.Timestamp(start + 2e9))
		build(sp)
		pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		require.NoError(t, err)
		status, body := postRaw(t, base+"/v1/traces", "application/x-protobuf", pb)
		require.Equal(t, http.StatusOK, status, "%s", body)
	}
	child := func(sp ptrace.Span, id byte) {
		sp.SetSpanID(pcommon.SpanID{id, 9, 9, 9, 9, 9, 9, 9})
		sp.SetParentSpanID(parentID)
		sp.SetName("chat gpt-4o")
		sp.Attributes().PutStr("gen_ai.operation.name", "chat")
		sp.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
		sp.Attributes().PutInt("gen_ai.usage.input_tokens", 100)
		sp.Attributes().PutInt("gen_ai.usage.output_tokens", 10)
	}
	calls := func() []event.Event {
		var out []event.Event
		for _, e := range records(sink) {
			if e.EventType == "action.llm_call" {
				out = append(out, e)
			}
		}
		return out
	}

	send(func(sp ptrace.Span) { child(sp, 1) })
	first := calls()
	require.Len(t, first, 1)
	assert.Equal(t, "anonymous:"+traceID.String(), first[0].UserID)

	sink.Reset()
	send(func(sp ptrace.Span) {
		sp.SetSpanID(parentID)
		sp.SetName("turn")
		sp.Attributes().PutStr("agentpulse.session_id", "conv-7")
		sp.Attributes().PutStr("agentpulse.user_id", "u-7")
	})
	again := calls()
	require.Len(t, again, 1, "the held call is sent again under the parent's identity")
	assert.Equal(t, first[0].EventID, again[0].EventID)
	assert.Equal(t, "conv-7", again[0].SessionID)
	assert.Equal(t, "u-7", again[0].UserID)

	// A later child of the same trace takes the known identity at once.
	sink.Reset()
	send(func(sp ptrace.Span) { child(sp, 2) })
	later := calls()
	require.Len(t, later, 1)
	assert.Equal(t, "conv-7", later[0].SessionID)
	assert.Equal(t, "u-7", later[0].UserID)
}
