package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

func newLogs() plog.Logs {
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	return ld
}

// addRecord appends an event record of span (trace, span) with a body
// built from raw (nil: no body).
func addRecord(ld plog.Logs, trace, span byte, name string, at int64, body map[string]any) plog.LogRecord {
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	lr.SetTraceID(pcommon.TraceID{15: trace})
	lr.SetSpanID(pcommon.SpanID{7: span})
	lr.SetEventName(name)
	lr.SetTimestamp(pcommon.Timestamp(at))
	if body != nil {
		if err := lr.Body().SetEmptyMap().FromRaw(body); err != nil {
			panic(err)
		}
	}
	return lr
}

// The records opentelemetry-instrumentation-openai-v2 sends for the second
// turn of a conversation: the history, the new question, two choices.
func openAIV2Records(ld plog.Logs) {
	addRecord(ld, 1, 1, "gen_ai.system.message", 10, map[string]any{"content": "You are terse."})
	addRecord(ld, 1, 1, "gen_ai.user.message", 11, map[string]any{"content": "What is OTLP?"})
	addRecord(ld, 1, 1, "gen_ai.assistant.message", 12, map[string]any{"content": "A telemetry protocol."})
	addRecord(ld, 1, 1, "gen_ai.user.message", 13, map[string]any{"content": "Who maintains it?"})
	addRecord(ld, 1, 1, "gen_ai.choice", 20, map[string]any{
		"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "The OpenTelemetry project."},
	})
	addRecord(ld, 1, 1, "gen_ai.choice", 21, map[string]any{
		"index": 1, "finish_reason": "stop", "message": map[string]any{"content": "CNCF."},
	})
}

func TestMapLogsOpenAIV2(t *testing.T) {
	ld := newLogs()
	openAIV2Records(ld)
	// Records that are not GenAI events are ignored, AgentPulse's own
	// encoded events too.
	other := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	other.Body().SetStr("GET /health 200")
	ev := event.Event{EventID: "e1", EventType: event.TypeMessageUser, UserID: "u", Properties: map[string]any{"content": "x"}}
	ev.AppendTo(ld.ResourceLogs().At(0).ScopeLogs().At(0))
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("session.id", "conv-7")

	out, errs := MapLogs(ld, Options{ProductID: testProduct})
	require.Empty(t, errs)
	require.Len(t, out, 2)
	trace := pcommon.TraceID{15: 1}.String()
	u, a := out[0].Event, out[1].Event
	assert.Equal(t, event.TypeMessageUser, u.EventType)
	assert.Equal(t, map[string]any{"content": "Who maintains it?", "content_length": int64(len("Who maintains it?"))}, u.Properties)
	assert.Equal(t, ns(13), u.Timestamp)
	assert.Regexp(t, "^"+trace+"-user-[0-9a-f]{16}$", u.EventID)
	assert.Equal(t, event.TypeMessageAgent, a.EventType)
	assert.Equal(t, "The OpenTelemetry project.", a.Properties["content"])
	assert.Equal(t, ns(20), a.Timestamp)
	for _, m := range out {
		assert.Equal(t, "conv-7", m.Event.SessionID)
		assert.Equal(t, "anonymous:conv-7", m.Event.UserID)
		assert.Equal(t, testProduct, m.Event.ProductID)
		assert.Equal(t, pcommon.SpanID{7: 1}, m.SpanID)
	}

	// The same conversation as span attributes gives the same message ids,
	// so a message seen both ways is stored once.
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, chatAttrs(map[string]any{
		"gen_ai.input.messages": `[{"role":"system","content":"You are terse."},{"role":"user","content":"What is OTLP?"},` +
			`{"role":"assistant","content":"A telemetry protocol."},{"role":"user","content":"Who maintains it?"}]`,
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"The OpenTelemetry project."}]}]`,
	}))
	spans, _ := MapTraces(td, Options{ProductID: testProduct})
	assert.Equal(t, u.EventID, byID(t, spans, u.EventID).Event.EventID)
	assert.Equal(t, a.EventID, byID(t, spans, a.EventID).Event.EventID)
}

func TestMapLogsTraceIdentity(t *testing.T) {
	ld := newLogs()
	openAIV2Records(ld)
	asked := []pcommon.TraceID{}
	opts := Options{ProductID: testProduct, TraceIdentity: func(id pcommon.TraceID) (Identity, bool) {
		asked = append(asked, id)
		return Identity{SessionID: "from-spans", UserID: "u-42"}, true
	}}
	out, _ := MapLogs(ld, opts)
	require.Len(t, out, 2)
	assert.Equal(t, []pcommon.TraceID{{15: 1}}, asked)
	for _, m := range out {
		assert.Equal(t, "from-spans", m.Event.SessionID)
		assert.Equal(t, "u-42", m.Event.UserID)
	}

	// Without the hook and without ids: the trace's anonymous user.
	out, _ = MapLogs(ld, Options{ProductID: testProduct})
	assert.Equal(t, "anonymous:"+pcommon.TraceID{15: 1}.String(), out[0].Event.UserID)
	assert.Empty(t, out[0].Event.SessionID)
}

func TestMapLogsInferenceDetails(t *testing.T) {
	ld := newLogs()
	lr := addRecord(ld, 2, 5, "gen_ai.client.inference.operation.details", 99, nil)
	lr.Attributes().PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"ping"}]}]`)
	out := lr.Attributes().PutEmptySlice("gen_ai.output.messages")
	require.NoError(t, out.FromRaw([]any{map[string]any{"role": "assistant", "parts": []any{map[string]any{"type": "text", "content": "pong"}}}}))
	lr.Attributes().PutStr("user.id", "u-9")

	mapped, errs := MapLogs(ld, Options{ProductID: testProduct})
	require.Empty(t, errs)
	require.Len(t, mapped, 2)
	assert.Equal(t, "ping", mapped[0].Event.Properties["content"])
	assert.Equal(t, "pong", mapped[1].Event.Properties["content"])
	assert.Equal(t, "u-9", mapped[0].Event.UserID)
}

func TestMapLogsStringBodyAndLegacyEventName(t *testing.T) {
	ld := newLogs()
	lr := addRecord(ld, 3, 3, "", 7, nil)
	lr.Attributes().PutStr("event.name", "gen_ai.user.message")
	lr.Body().SetStr("hello from a string body")
	out, _ := MapLogs(ld, Options{ProductID: testProduct})
	require.Len(t, out, 1)
	assert.Equal(t, "hello from a string body", out[0].Event.Properties["content"])
}
