package workload

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
)

// The spans map, with AgentPulse's own GenAI mapper, to the events they
// stand for: the same types, sessions, users, tokens and amounts.
func TestSpansMapToTheirEvents(t *testing.T) {
	events := NewStream(DefaultConfig("bench", 5000, end, 11)).Take(5000)
	body, n, err := Spans(events)
	require.NoError(t, err)

	type key struct{ session, typ string }
	want := map[key]int{}
	var wantIn, wantOut, wantCached int64
	var wantAmount float64
	for i := range events {
		e := &events[i]
		if !SpanEvents(e) {
			continue
		}
		want[key{e.SessionID, e.EventType}]++
		if e.EventType == event.TypeLLMCall {
			wantIn += int64(num(e.Properties["input_tokens"]))
			wantOut += int64(num(e.Properties["output_tokens"]))
			wantCached += int64(num(e.Properties["cached_input_tokens"]))
		}
		if e.EventType == event.TypeOutcomePayment {
			wantAmount += num(e.Properties["amount"])
		}
	}
	total := 0
	for _, c := range want {
		total += c
	}
	require.Equal(t, total, n)
	require.Greater(t, n, 1000, "the workload has LLM and tool calls")

	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(body))
	mapped, errs := genai.MapTraces(req.Traces(), genai.Options{ProductID: "bench"})
	require.Empty(t, errs)
	require.Len(t, mapped, n)

	got := map[key]int{}
	users := map[string]string{}
	for i := range events {
		users[events[i].SessionID] = events[i].UserID
	}
	var in, out, cached int64
	var amount float64
	for _, m := range mapped {
		e := m.Event
		got[key{e.SessionID, e.EventType}]++
		assert.Equal(t, users[e.SessionID], e.UserID)
		assert.Equal(t, "bench", e.ProductID)
		if e.EventType == event.TypeLLMCall {
			v, _ := event.Int(e.Properties, "input_tokens")
			in += v
			v, _ = event.Int(e.Properties, "output_tokens")
			out += v
			v, _ = event.Int(e.Properties, "cached_input_tokens")
			cached += v
		}
		if e.EventType == event.TypeOutcomePayment {
			v, _ := event.Float(e.Properties, "amount")
			amount += v
		}
	}
	assert.Equal(t, want, got)
	assert.Equal(t, wantIn, in)
	assert.Equal(t, wantOut, out)
	assert.Equal(t, wantCached, cached)
	assert.InDelta(t, wantAmount, amount, 1e-6)
}
