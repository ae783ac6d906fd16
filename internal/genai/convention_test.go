package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

func addEvent(sp ptrace.Span, name string, at int64, attrs map[string]any) {
	ev := sp.Events().AppendEmpty()
	ev.SetName(name)
	ev.SetTimestamp(pcommon.Timestamp(at))
	if err := ev.Attributes().FromRaw(attrs); err != nil {
		panic(err)
	}
}

func TestBusinessEvents(t *testing.T) {
	td := ptrace.NewTraces()
	// A plain application span, no GenAI attributes.
	sp := newSpan(td, 1, 1, 0, map[string]any{"agentpulse.session_id": "conv-1", "agentpulse.user_id": "u-1"})
	addEvent(sp, "agentpulse.outcome", 1_100_000_000, map[string]any{
		"agentpulse.outcome.name": "Artifact", "agentpulse.outcome.kind": "invoice", "agentpulse.outcome.pages": 3,
	})
	addEvent(sp, "unrelated", 1_150_000_000, map[string]any{"x": 1})
	addEvent(sp, "agentpulse.payment", 1_200_000_000, map[string]any{
		"agentpulse.payment.amount": "58.00", "agentpulse.payment.currency": "brl",
	})
	addEvent(sp, "agentpulse.payment", 1_210_000_000, map[string]any{"agentpulse.payment.amount": 10})
	addEvent(sp, "agentpulse.feedback", 1_300_000_000, map[string]any{
		"agentpulse.feedback.value": "thumbs_up", "agentpulse.feedback.score": 1,
	})
	addEvent(sp, "agentpulse.feedback", 1_310_000_000, map[string]any{
		"agentpulse.feedback.kind": "implicit", "agentpulse.feedback.value": "download",
	})
	addEvent(sp, "agentpulse.session.end", 0, map[string]any{"agentpulse.session.end_reason": "converted"})

	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Empty(t, errs)
	base := pcommon.TraceID{15: 1}.String() + "-" + pcommon.SpanID{7: 1}.String() + "-ev"
	want := []struct {
		id    string
		typ   string
		at    int64
		props map[string]any
	}{
		{base + "0", "outcome.artifact", 1_100_000_000, map[string]any{"kind": "invoice", "pages": int64(3)}},
		{base + "2", event.TypeOutcomePayment, 1_200_000_000, map[string]any{"amount": 58.0, "currency": "BRL"}},
		{base + "3", event.TypeOutcomePayment, 1_210_000_000, map[string]any{"amount": 10.0, "currency": "USD"}},
		{base + "4", event.TypeFeedbackExpl, 1_300_000_000, map[string]any{"value": "thumbs_up", "score": 1.0}},
		{base + "5", event.TypeFeedbackImpl, 1_310_000_000, map[string]any{"value": "download"}},
		// No event time: the span's start (newSpan starts span n at n seconds).
		{base + "6", event.TypeSessionEnd, 1_000_000_000, map[string]any{"reason": "converted"}},
	}
	require.Len(t, out, len(want))
	for i, w := range want {
		e := out[i].Event
		assert.Equal(t, w.id, e.EventID)
		assert.Equal(t, w.typ, e.EventType)
		assert.Equal(t, ns(w.at), e.Timestamp, w.id)
		assert.Equal(t, w.props, e.Properties, w.id)
		assert.Equal(t, "conv-1", e.SessionID)
		assert.Equal(t, "u-1", e.UserID)
		assert.Equal(t, testProduct, e.ProductID)
		assert.False(t, out[i].Call)
	}
}

func TestBusinessEventErrors(t *testing.T) {
	td := ptrace.NewTraces()
	sp := newSpan(td, 1, 1, 0, nil)
	addEvent(sp, "agentpulse.outcome", 1, map[string]any{})
	addEvent(sp, "agentpulse.outcome", 1, map[string]any{"agentpulse.outcome.name": "not a slug!"})
	addEvent(sp, "agentpulse.payment", 1, map[string]any{"agentpulse.payment.amount": "abc", "agentpulse.payment.currency": "dollars"})
	addEvent(sp, "agentpulse.feedback", 1, map[string]any{"agentpulse.feedback.kind": "loud", "agentpulse.feedback.value": "x"})
	addEvent(sp, "agentpulse.feedback", 1, map[string]any{})
	addEvent(sp, "agentpulse.feedback", 1, map[string]any{"agentpulse.feedback.score": "high"})
	addEvent(sp, "agentpulse.outcome", 1, map[string]any{"agentpulse.outcome.name": "ok"})

	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Len(t, out, 1)
	assert.Equal(t, "outcome.ok", out[0].Event.EventType)
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	span := pcommon.SpanID{7: 1}.String()
	assert.Equal(t, []string{
		"span " + span + `: agentpulse.outcome: agentpulse.outcome.name must be a lowercase slug (letters, digits, _ or -, up to 64), got ""`,
		"span " + span + `: agentpulse.outcome: agentpulse.outcome.name must be a lowercase slug (letters, digits, _ or -, up to 64), got "not a slug!"`,
		"span " + span + `: agentpulse.payment: agentpulse.payment.amount must be a finite number, got "abc"` + "\n" +
			`agentpulse.payment: agentpulse.payment.currency must be an ISO 4217 code such as USD, got "dollars"`,
		"span " + span + `: agentpulse.feedback: agentpulse.feedback.kind must be explicit or implicit, got "loud"`,
		"span " + span + `: agentpulse.feedback: needs agentpulse.feedback.value or agentpulse.feedback.score`,
		"span " + span + `: agentpulse.feedback: agentpulse.feedback.score must be a finite number, got "high"`,
	}, msgs)
}

func TestBusinessEventsAsLogRecords(t *testing.T) {
	ld := newLogs()
	rec := addRecord(ld, 3, 4, "agentpulse.payment", 5_000_000_000, nil)
	rec.Attributes().PutDouble("agentpulse.payment.amount", 19.9)
	rec.Attributes().PutStr("agentpulse.session_id", "conv-2")
	out, errs := MapLogs(ld, Options{ProductID: testProduct})
	require.Empty(t, errs)
	require.Len(t, out, 1)
	e := out[0].Event
	assert.Equal(t, event.TypeOutcomePayment, e.EventType)
	assert.Equal(t, map[string]any{"amount": 19.9, "currency": "USD"}, e.Properties)
	assert.Equal(t, "conv-2", e.SessionID)
	assert.Equal(t, "anonymous:conv-2", e.UserID)
	assert.Equal(t, ns(5_000_000_000), e.Timestamp)
	assert.Regexp(t, "^"+pcommon.TraceID{15: 3}.String()+"-"+pcommon.SpanID{7: 4}.String()+"-log-[0-9a-f]{16}$", e.EventID)

	// The same record again maps to the same id.
	again, _ := MapLogs(ld, Options{ProductID: testProduct})
	assert.Equal(t, e.EventID, again[0].Event.EventID)
}
