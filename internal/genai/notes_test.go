package genai

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// roundTripTraces is one turn: an agent run, a model call whose request
// and reply are span events around business events, and a tool call, with
// a user but no session (so the processor assigns one).
func roundTripTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, map[string]any{
		"gen_ai.operation.name": "invoke_agent", "user.id": "u-1", "agentpulse.metadata.channel": "web",
		"gen_ai.input.messages":  `[{"role":"user","content":"I need help with my divorce"}]`,
		"gen_ai.output.messages": `[{"role":"assistant","content":"Here is what to do."}]`,
	})
	sk := newSpan(td, 1, 2, 1, map[string]any{
		"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": int64(120), "gen_ai.usage.output_tokens": int64(30),
	})
	for _, ev := range []struct {
		name  string
		attrs map[string]any
	}{
		{"gen_ai.user.message", map[string]any{"content": "Can you draft the petition?"}},
		{EventPayment, map[string]any{AttrPaymentAmount: 20.0, AttrPaymentCurrency: "eur"}},
		{"gen_ai.choice", map[string]any{"index": int64(0), "message": `{"role":"assistant","content":"Drafted."}`}},
		{EventOutcome, map[string]any{AttrOutcomeName: "artifact", "agentpulse.outcome.kind": "petition"}},
	} {
		se := sk.Events().AppendEmpty()
		se.SetName(ev.name)
		se.SetTimestamp(sk.StartTimestamp() + 100)
		require.NoError(nil, se.Attributes().FromRaw(ev.attrs))
	}
	newSpan(td, 1, 3, 1, map[string]any{
		"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
		"gen_ai.tool.call.arguments": `{"q":"divorce forms"}`, "gen_ai.tool.call.result": "3 forms",
	})
	return td
}

// enrichLikeProcessor fills in what the processor would: a session, costs,
// a topic, a dollar amount, and content dropped from the events.
func enrichLikeProcessor(out []Mapped, keepContent bool) {
	for i := range out {
		e := &out[i].Event
		e.SessionID = "s_round_trip"
		switch e.EventType {
		case event.TypeLLMCall:
			c := 0.00075
			e.CostUSD, e.CostStatus = &c, event.CostComputed
		case event.TypeToolCall:
			z := 0.0
			e.CostUSD, e.CostStatus = &z, event.CostUnpriced
		case event.TypeOutcomePayment:
			usd := 20 * 1.08
			e.AmountUSD = &usd
		case event.TypeMessageUser:
			if strings.Contains(e.Properties["content"].(string), "divorce") {
				e.Topic = "divorce"
			}
		}
		if !keepContent {
			delete(e.Properties, "content")
		}
	}
}

func eventsByID(out []Mapped) []event.Event {
	es := make([]event.Event, len(out))
	for i := range out {
		es[i] = out[i].Event
	}
	slices.SortFunc(es, func(a, b event.Event) int { return strings.Compare(a.EventID, b.EventID) })
	return es
}

func TestAnnotateRoundTrip(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := "content stripped"
		if keep {
			name = "content kept"
		}
		t.Run(name, func(t *testing.T) {
			td := roundTripTraces()
			out, errs := MapTraces(td, Options{ProductID: testProduct})
			require.Empty(t, errs)
			// llm, tool, payment, outcome, two user and two agent messages.
			require.Equal(t, map[string]int{
				llm: 1, tool: 1, user: 2, bot: 2, event.TypeOutcomePayment: 1, "outcome.artifact": 1,
			}, countTypes(out))
			enrichLikeProcessor(out, keep)
			want := eventsByID(out)

			Annotate(td, out)
			removed := 0
			if !keep {
				for _, rs := range td.ResourceSpans().All() {
					for _, ss := range rs.ScopeSpans().All() {
						for _, sp := range ss.Spans().All() {
							removed += StripContent(sp)
						}
					}
				}
				// 2 message attributes on the agent, 2 span events on the
				// model call, 2 tool attributes.
				assert.Equal(t, 6, removed)
			}

			again, errs := MapTraces(td, Options{ProductID: testProduct})
			require.Empty(t, errs)
			assert.Equal(t, want, eventsByID(again))
		})
	}
}

func TestAnnotateTwiceKeepsOneNotePerMessage(t *testing.T) {
	td := roundTripTraces()
	out, _ := MapTraces(td, Options{ProductID: testProduct})
	enrichLikeProcessor(out, false)
	Annotate(td, out)
	again, _ := MapTraces(td, Options{ProductID: testProduct})
	Annotate(td, again)

	notes := 0
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				for _, ev := range sp.Events().All() {
					if ev.Name() == EventMessage {
						notes++
						assert.NotContains(t, ev.Attributes().AsRaw(), "content")
					}
				}
			}
		}
	}
	assert.Equal(t, len(ofType(out, user))+len(ofType(out, bot)), notes)
}

func TestMessageNoteErrors(t *testing.T) {
	td := ptrace.NewTraces()
	sp := newSpan(td, 1, 1, 0, map[string]any{"traceloop.span.kind": "workflow"})
	for _, attrs := range []map[string]any{
		{AttrEventType: event.TypeMessageUser},                                                 // no id
		{AttrEventID: "m1", AttrEventType: "action.llm_call"},                                  // not a message
		{AttrEventID: strings.Repeat("x", MaxIDBytes+1), AttrEventType: event.TypeMessageUser}, // too long
		{AttrEventID: "m2", AttrEventType: event.TypeMessageAgent, AttrContentLength: int64(7), AttrTopic: "billing"},
		{AttrEventID: "m3", AttrEventType: event.TypeMessageUser, AttrTopic: strings.Repeat("t", maxTopicBytes+1)},
	} {
		se := sp.Events().AppendEmpty()
		se.SetName(EventMessage)
		require.NoError(t, se.Attributes().FromRaw(attrs))
	}

	out, errs := MapTraces(td, Options{ProductID: testProduct})
	assert.Len(t, errs, 3)
	require.Len(t, out, 2)
	assert.Empty(t, out[1].Event.Topic, "an over-long topic is ignored")
	assert.Equal(t, map[string]any{}, out[1].Event.Properties)
	e := out[0].Event
	assert.Equal(t, "m2", e.EventID)
	assert.Equal(t, event.TypeMessageAgent, e.EventType)
	assert.Equal(t, map[string]any{"content_length": int64(7)}, e.Properties)
	assert.Equal(t, "billing", e.Topic)
	assert.Equal(t, sp.StartTimestamp().AsTime(), e.Timestamp)
	assert.Equal(t, AnonymousPrefix+pcommon.TraceID{15: 1}.String(), e.UserID)
}

func TestProductOfResource(t *testing.T) {
	td := ptrace.NewTraces()
	withProduct := td.ResourceSpans().AppendEmpty()
	withProduct.Resource().Attributes().PutStr(event.AttrProductID, " bot-a ")
	parent := withProduct.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	parent.SetTraceID(pcommon.TraceID{15: 1})
	parent.SetSpanID(pcommon.SpanID{7: 1})
	require.NoError(t, parent.Attributes().FromRaw(chatAttrs(map[string]any{"session.id": "s-1"})))
	// A child in a resource without a product yields no events.
	other := td.ResourceSpans().AppendEmpty()
	child := other.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	child.SetTraceID(pcommon.TraceID{15: 1})
	child.SetSpanID(pcommon.SpanID{7: 2})
	child.SetParentSpanID(pcommon.SpanID{7: 1})
	require.NoError(t, child.Attributes().FromRaw(chatAttrs(nil)))

	out, errs := MapTraces(td, Options{ProductID: "ignored", ProductOf: ResourceProduct})
	require.Empty(t, errs)
	require.Len(t, out, 1)
	assert.Equal(t, "bot-a", out[0].Event.ProductID)
	assert.Equal(t, "s-1", out[0].Event.SessionID)
	assert.Equal(t, pcommon.SpanID{7: 1}, out[0].SpanID)

	// Given the product, the child maps too and finds its parent's session.
	other.Resource().Attributes().PutStr(event.AttrProductID, "bot-b")
	out, _ = MapTraces(td, Options{ProductOf: ResourceProduct})
	require.Len(t, out, 2)
	assert.Equal(t, "bot-b", out[1].Event.ProductID)
	assert.Equal(t, "s-1", out[1].Event.SessionID)
}
