package chstore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

const moneyDelta = 1e-9

func ptr[T any](v T) *T { return &v }

// jsonEqual compares values the way the API writes them.
func jsonEqual(t *testing.T, want, got any, msgAndArgs ...any) {
	t.Helper()
	wb, err := json.Marshal(want)
	require.NoError(t, err)
	gb, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(wb), string(gb), msgAndArgs...)
}

func assertSummary(t *testing.T, want, got analytics.SessionSummary) {
	t.Helper()
	id := want.SessionID
	assert.Equal(t, want.SessionID, got.SessionID)
	assert.Equal(t, want.UserID, got.UserID, id)
	assert.Equal(t, want.ProductID, got.ProductID, id)
	assert.True(t, want.StartedAt.Equal(got.StartedAt.Time), "%s started_at: want %v, got %v", id, want.StartedAt, got.StartedAt)
	assert.True(t, want.LastEventAt.Equal(got.LastEventAt.Time), "%s last_event_at: want %v, got %v", id, want.LastEventAt, got.LastEventAt)
	assert.Equal(t, want.DurationMS, got.DurationMS, id)
	if want.EndedAt == nil {
		assert.Nil(t, got.EndedAt, "%s ended_at", id)
	} else if assert.NotNil(t, got.EndedAt, "%s ended_at", id) {
		assert.True(t, want.EndedAt.Equal(got.EndedAt.Time), "%s ended_at: want %v, got %v", id, want.EndedAt, got.EndedAt)
	}
	assert.Equal(t, want.Status, got.Status, id)
	assert.Equal(t, want.ConversationDepth, got.ConversationDepth, id)
	assert.Equal(t, want.LLMCalls, got.LLMCalls, id)
	assert.Equal(t, want.ToolCalls, got.ToolCalls, id)
	assert.Equal(t, want.UnpricedLLMCalls, got.UnpricedLLMCalls, id)
	assert.InDelta(t, want.TotalCostUSD, got.TotalCostUSD, moneyDelta, id)
	assert.InDelta(t, want.RevenueUSD, got.RevenueUSD, moneyDelta, id)
	assert.InDelta(t, want.MarginUSD, got.MarginUSD, moneyDelta, id)
	assert.InDelta(t, want.CacheSavingsUSD, got.CacheSavingsUSD, moneyDelta, id)
	assert.Equal(t, want.Outcomes, got.Outcomes, id)
	assert.Equal(t, want.Converted, got.Converted, id)
	assert.Equal(t, want.FunnelStage, got.FunnelStage, id)
	assert.Equal(t, want.Topic, got.Topic, id)
	jsonEqual(t, want.Metadata, got.Metadata, id)
}

func assertFunnel(t *testing.T, want, got []analytics.StageCount) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Name, got[i].Name)
		assert.Equal(t, want[i].Sessions, got[i].Sessions, want[i].Name)
		assert.InDelta(t, want[i].ConversionFromPrevious, got[i].ConversionFromPrevious, 1e-12, want[i].Name)
		assert.InDelta(t, want[i].ConversionFromStart, got[i].ConversionFromStart, 1e-12, want[i].Name)
	}
}

func assertOptionalFloat(t *testing.T, want, got *float64, name string) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got, name)
		return
	}
	if assert.NotNil(t, got, name) {
		assert.InDelta(t, *want, *got, moneyDelta, name)
	}
}

func assertEconomics(t *testing.T, want, got analytics.Economics) {
	t.Helper()
	assert.Equal(t, want.Sessions, got.Sessions, "sessions")
	assert.Equal(t, want.ConvertedSessions, got.ConvertedSessions, "converted_sessions")
	assert.InDelta(t, want.TotalRevenueUSD, got.TotalRevenueUSD, moneyDelta, "total_revenue_usd")
	assert.InDelta(t, want.TotalCostUSD, got.TotalCostUSD, moneyDelta, "total_cost_usd")
	assert.InDelta(t, want.LLMCostUSD, got.LLMCostUSD, moneyDelta, "llm_cost_usd")
	assert.InDelta(t, want.ToolCostUSD, got.ToolCostUSD, moneyDelta, "tool_cost_usd")
	assert.InDelta(t, want.GrossMarginUSD, got.GrossMarginUSD, moneyDelta, "gross_margin_usd")
	assertOptionalFloat(t, want.GrossMarginPct, got.GrossMarginPct, "gross_margin_pct")
	assert.InDelta(t, want.AvgRevenuePerSess, got.AvgRevenuePerSess, moneyDelta, "avg_revenue_per_session")
	assert.InDelta(t, want.AvgCostPerSession, got.AvgCostPerSession, moneyDelta, "avg_cost_per_session")
	assert.InDelta(t, want.AvgMarginPerSession, got.AvgMarginPerSession, moneyDelta, "avg_margin_per_session")
	assertOptionalFloat(t, want.CostPerConversion, got.CostPerConversion, "cost_per_conversion")
	assert.InDelta(t, want.CacheSavingsUSD, got.CacheSavingsUSD, moneyDelta, "cache_savings_usd")
	assert.Equal(t, want.UnpricedLLMCalls, got.UnpricedLLMCalls, "unpriced_llm_calls")
	require.Len(t, got.RevenueByCurrency, len(want.RevenueByCurrency), "revenue_by_currency: %v", got.RevenueByCurrency)
	for c, a := range want.RevenueByCurrency {
		assert.InDelta(t, a, got.RevenueByCurrency[c], moneyDelta, "revenue_by_currency[%s]", c)
	}
}

func assertTopics(t *testing.T, want, got []analytics.TopicRow) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.Topic, g.Topic, "row %d", i)
		assert.Equal(t, w.Sessions, g.Sessions, w.Topic)
		assert.Equal(t, w.ConvertedSessions, g.ConvertedSessions, w.Topic)
		assert.InDelta(t, w.ConversionRate, g.ConversionRate, 1e-12, w.Topic)
		assert.InDelta(t, w.RevenueUSD, g.RevenueUSD, moneyDelta, w.Topic)
		assert.InDelta(t, w.TotalCostUSD, g.TotalCostUSD, moneyDelta, w.Topic)
		assert.InDelta(t, w.MarginUSD, g.MarginUSD, moneyDelta, w.Topic)
		assert.InDelta(t, w.AvgConversationDepth, g.AvgConversationDepth, 1e-12, w.Topic)
	}
}

// builder makes events of one session with increasing times.
type builder struct {
	product, session, user string
	at                     time.Time
	n                      int
	events                 []event.Event
}

func newBuilder(product, session, user string, start time.Time) *builder {
	return &builder{product: product, session: session, user: user, at: start}
}

// add appends an event step after the previous one.
func (b *builder) add(step time.Duration, typ string, props map[string]any, edit ...func(*event.Event)) *builder {
	b.at = b.at.Add(step)
	b.n++
	e := event.Event{
		EventID:    fmt.Sprintf("%s-%03d", b.session, b.n),
		SessionID:  b.session,
		EventType:  typ,
		Timestamp:  b.at,
		UserID:     b.user,
		ProductID:  b.product,
		Properties: props,
	}
	for _, f := range edit {
		f(&e)
	}
	b.events = append(b.events, e)
	return b
}

func withMeta(m map[string]any) func(*event.Event) {
	return func(e *event.Event) { e.Metadata = m }
}

func withTopic(topic string) func(*event.Event) {
	return func(e *event.Event) { e.Topic = topic }
}

func withCost(cost float64, status string) func(*event.Event) {
	return func(e *event.Event) {
		e.CostUSD = ptr(cost)
		e.CostStatus = status
	}
}

func unpriced(e *event.Event) { e.CostStatus = event.CostUnpriced }

func withAmountUSD(v float64) func(*event.Event) {
	return func(e *event.Event) { e.AmountUSD = ptr(v) }
}

// randomEvents makes a varied, reproducible workload: several products,
// users and topics; every event type; duplicates; unpriced calls;
// payments in currencies with and without a rate; sessions that end, time
// out or stay open.
func randomEvents(seed uint64, sessions int, start time.Time) []event.Event {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	products := []string{"alpha", "beta"}
	topics := []string{"billing", "contracts", "labor", ""}
	var out []event.Event
	for i := range sessions {
		product := products[rng.IntN(len(products))]
		user := fmt.Sprintf("user-%d", rng.IntN(6))
		sessionStart := start.Add(time.Duration(rng.IntN(72*60)) * time.Minute).Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		b := newBuilder(product, fmt.Sprintf("s%03d", i), user, sessionStart)
		b.add(0, event.TypeMessageUser, map[string]any{"content_length": int64(rng.IntN(500))},
			withMeta(map[string]any{"channel": []string{"whatsapp", "web"}[rng.IntN(2)], "topic": topics[rng.IntN(len(topics))]}))
		for range rng.IntN(12) {
			step := time.Duration(rng.IntN(90_000)) * time.Millisecond
			switch k := rng.IntN(14); k {
			case 0, 1:
				b.add(step, event.TypeMessageUser, map[string]any{"content_length": int64(rng.IntN(300))})
			case 2:
				b.add(step, event.TypeMessageAgent, map[string]any{"content_length": int64(rng.IntN(900))},
					withMeta(map[string]any{"lang": []string{"pt", "en"}[rng.IntN(2)], "score": float64(rng.IntN(5)) / 2}))
			case 3, 4:
				if rng.IntN(4) == 0 {
					b.add(step, event.TypeLLMCall, map[string]any{"model": "mystery-model", "input_tokens": int64(100)}, unpriced)
				} else {
					b.add(step, event.TypeLLMCall, map[string]any{"model": "gpt-4o", "input_tokens": int64(rng.IntN(5000))},
						withCost(float64(rng.IntN(10000))/1e5, event.CostComputed), withTopic(topics[rng.IntN(3)]))
				}
			case 5:
				b.add(step, event.TypeToolCall, map[string]any{"tool_name": "search"}, withCost(float64(rng.IntN(100))/1e4, event.CostReported))
			case 6:
				b.add(step, event.TypeCacheHit, map[string]any{"cache_name": "sem", "saved_cost_usd": float64(rng.IntN(100)) / 1e3})
			case 7:
				b.add(step, "outcome.artifact", map[string]any{"kind": "pdf"})
			case 8:
				b.add(step, []string{"outcome.handoff", "outcome.abandon", "outcome.signup"}[rng.IntN(3)], nil)
			case 9:
				amt := float64(rng.IntN(100))
				switch rng.IntN(3) {
				case 0:
					b.add(step, event.TypeOutcomePayment, map[string]any{"amount": amt, "currency": "BRL"}, withAmountUSD(amt*0.2))
				case 1:
					b.add(step, event.TypeOutcomePayment, map[string]any{"amount": amt}, withAmountUSD(amt))
				default:
					b.add(step, event.TypeOutcomePayment, map[string]any{"amount": amt, "currency": "XYZ"})
				}
			case 10:
				b.add(step, event.TypeFeedbackExpl, map[string]any{"value": "thumbs_up"},
					withMeta(map[string]any{"channel": "app", "topic": topics[rng.IntN(len(topics))]}))
			case 11:
				b.add(step, event.TypeSessionEnd, map[string]any{"reason": []string{"converted", "user_left"}[rng.IntN(2)]})
			default:
				b.add(step, event.TypeMessageAgent, map[string]any{"content_length": int64(10)}, withTopic("labor"))
			}
		}
		// Event ids that do not follow time order, as with random ids.
		for j := range b.events {
			b.events[j].EventID = fmt.Sprintf("%08x-%d", rng.Uint32(), j)
		}
		out = append(out, b.events...)
	}
	// Resend a tenth of the events, as a retrying client would.
	for i := 0; i < len(out); i += 10 {
		out = append(out, out[i])
	}
	return out
}
