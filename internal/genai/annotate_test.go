package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

func attrsOf(t *testing.T, td ptrace.Traces, trace, span byte) map[string]any {
	t.Helper()
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if sp.TraceID() == (pcommon.TraceID{15: trace}) && sp.SpanID() == (pcommon.SpanID{7: span}) {
					return sp.Attributes().AsRaw()
				}
			}
		}
	}
	require.Fail(t, "span not found")
	return nil
}

func TestAnnotate(t *testing.T) {
	td := ptrace.NewTraces()
	// Trace 1: an agent run with a user message, a workflow step, a priced
	// model call, an unpriced one, a call with a reported cost, a tool.
	newSpan(td, 1, 1, 0, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-1",
		"gen_ai.input.messages": `[{"role":"user","content":"hi"}]`})
	newSpan(td, 1, 2, 1, map[string]any{"traceloop.span.kind": "workflow"})
	newSpan(td, 1, 3, 2, chatAttrs(map[string]any{"user.id": "u-1"}))
	newSpan(td, 1, 4, 2, chatAttrs(nil))
	newSpan(td, 1, 5, 2, chatAttrs(map[string]any{"gen_ai.usage.cost": 0.25}))
	newSpan(td, 1, 6, 2, map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
	// Trace 2: two sessions, so its plain span gets no trace-wide session.
	newSpan(td, 2, 7, 0, chatAttrs(map[string]any{"session.id": "a"}))
	newSpan(td, 2, 8, 0, chatAttrs(map[string]any{"session.id": "b"}))
	newSpan(td, 2, 9, 0, map[string]any{"traceloop.span.kind": "task"})

	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Empty(t, errs)
	// What the processor would fill in.
	for i := range out {
		e := &out[i].Event
		switch {
		case e.EventID == CallEventID(pcommon.TraceID{15: 1}, pcommon.SpanID{7: 3}):
			c := 0.125
			e.CostUSD, e.CostStatus = &c, event.CostComputed
		case e.EventID == CallEventID(pcommon.TraceID{15: 1}, pcommon.SpanID{7: 4}):
			z := 0.0
			e.CostUSD, e.CostStatus = &z, event.CostUnpriced
		}
	}
	Annotate(td, out)

	anon := "anonymous:conv-1"
	assert.Equal(t, map[string]any{
		"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-1",
		"gen_ai.input.messages": `[{"role":"user","content":"hi"}]`,
		"agentpulse.session_id": "conv-1", "agentpulse.user_id": anon,
	}, attrsOf(t, td, 1, 1))
	assert.Equal(t, map[string]any{
		"traceloop.span.kind": "workflow", "agentpulse.session_id": "conv-1",
	}, attrsOf(t, td, 1, 2))
	call := func(extra map[string]any, annotations map[string]any) map[string]any {
		m := chatAttrs(extra)
		for k, v := range annotations {
			m[k] = v
		}
		return m
	}
	assert.Equal(t, call(map[string]any{"user.id": "u-1"}, map[string]any{
		"agentpulse.session_id": "conv-1", "agentpulse.user_id": "u-1", "agentpulse.event_type": "action.llm_call",
		"agentpulse.cost_usd": 0.125, "agentpulse.cost_status": "computed",
	}), attrsOf(t, td, 1, 3))
	assert.Equal(t, call(nil, map[string]any{
		"agentpulse.session_id": "conv-1", "agentpulse.user_id": anon, "agentpulse.event_type": "action.llm_call",
		"agentpulse.cost_status": "unpriced",
	}), attrsOf(t, td, 1, 4))
	assert.Equal(t, call(map[string]any{"gen_ai.usage.cost": 0.25}, map[string]any{
		"agentpulse.session_id": "conv-1", "agentpulse.user_id": anon, "agentpulse.event_type": "action.llm_call",
		"agentpulse.cost_usd": 0.25, "agentpulse.cost_status": "reported",
	}), attrsOf(t, td, 1, 5))
	assert.Equal(t, map[string]any{
		"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
		"agentpulse.session_id": "conv-1", "agentpulse.user_id": anon, "agentpulse.event_type": "action.tool_call",
	}, attrsOf(t, td, 1, 6))

	assert.Equal(t, "a", attrsOf(t, td, 2, 7)["agentpulse.session_id"])
	assert.Equal(t, "b", attrsOf(t, td, 2, 8)["agentpulse.session_id"])
	assert.Equal(t, map[string]any{"traceloop.span.kind": "task"}, attrsOf(t, td, 2, 9))

	// Annotated spans map to the same events (the annotations are the
	// agentpulse.* ids the mapping found).
	again, _ := MapTraces(td, Options{ProductID: testProduct})
	require.Len(t, again, len(out))
	for i := range again {
		assert.Equal(t, out[i].Event.EventID, again[i].Event.EventID)
		assert.Equal(t, out[i].Event.SessionID, again[i].Event.SessionID)
		assert.Equal(t, out[i].Event.UserID, again[i].Event.UserID)
	}
}

func TestAnnotateFixture(t *testing.T) {
	requireFixtureDir(t)
	td := loadFixture(t, "openinference-phoenix-pxi-agent-turn-llm-tool-loop.json")
	out := mapFixture(t, td)
	Annotate(td, out)
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				attrs := sp.Attributes().AsRaw()
				assert.Equal(t, "fixture-session", attrs["agentpulse.session_id"], sp.Name())
				assert.Equal(t, "user-0001", attrs["agentpulse.user_id"], sp.Name())
				kind := attrs["openinference.span.kind"]
				switch kind {
				case "LLM":
					assert.Equal(t, event.TypeLLMCall, attrs["agentpulse.event_type"])
				case "TOOL":
					assert.Equal(t, event.TypeToolCall, attrs["agentpulse.event_type"])
				default:
					assert.NotContains(t, attrs, "agentpulse.event_type")
				}
				assert.NotContains(t, attrs, "agentpulse.cost_usd")
			}
		}
	}
}
