package chstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
)

// brlRate is the exchange rate the fixture test configures: US dollars per
// Brazilian real.
const brlRate = 0.18

// rawEvent is an event of an SDK batch as sent.
type rawEvent struct {
	EventID    string         `json:"event_id"`
	SessionID  string         `json:"session_id"`
	EventType  string         `json:"event_type"`
	Timestamp  string         `json:"timestamp"`
	UserID     string         `json:"user_id"`
	ProductID  string         `json:"product_id"`
	Metadata   map[string]any `json:"metadata"`
	Properties map[string]any `json:"properties"`
}

func loadFixture(t *testing.T, name string) []rawEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var body struct {
		Events []rawEvent `json:"events"`
	}
	require.NoError(t, dec.Decode(&body))
	require.NotEmpty(t, body.Events)
	return body.Events
}

// rawNumber reads a JSON number of a raw event.
func rawNumber(m map[string]any, key string) (float64, bool) {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func rawInt(m map[string]any, key string) int64 {
	n, _ := m[key].(json.Number)
	i, _ := n.Int64()
	return i
}

// rawCost prices a call as the processor does: the reported cost when
// present, else the price table; unpriced without either.
func rawCost(table *pricing.Table, r rawEvent) (float64, string) {
	if v, ok := rawNumber(r.Properties, "cost_usd"); ok {
		return v, event.CostReported
	}
	if r.EventType != event.TypeLLMCall {
		return 0, event.CostUnpriced
	}
	price, ok := table.Lookup(event.String(r.Properties, "model"))
	if !ok {
		return 0, event.CostUnpriced
	}
	return price.Cost(pricing.Usage{
		Input:         rawInt(r.Properties, "input_tokens"),
		Output:        rawInt(r.Properties, "output_tokens"),
		CachedInput:   rawInt(r.Properties, "cached_input_tokens"),
		CacheCreation: rawInt(r.Properties, "cache_creation_input_tokens"),
	}), event.CostComputed
}

// toEvent turns a raw event into the model the processor hands on, with
// numbers as pcommon's AsRaw gives them.
func toEvent(t *testing.T, table *pricing.Table, r rawEvent) event.Event {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
	require.NoError(t, err)
	e := event.Event{
		EventID: r.EventID, SessionID: r.SessionID, EventType: r.EventType, Timestamp: ts.UTC(),
		UserID: r.UserID, ProductID: r.ProductID,
		Metadata: modelValues(r.Metadata), Properties: modelValues(r.Properties),
	}
	switch r.EventType {
	case event.TypeLLMCall, event.TypeToolCall:
		cost, status := rawCost(table, r)
		e.CostStatus = status
		if status != event.CostUnpriced {
			e.CostUSD = ptr(cost)
		}
	case event.TypeOutcomePayment:
		amount, _ := rawNumber(r.Properties, "amount")
		switch event.String(r.Properties, "currency") {
		case "BRL":
			e.AmountUSD = ptr(amount * brlRate)
		case "", "USD":
			e.AmountUSD = ptr(amount)
		}
	}
	return e
}

func modelValues(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				out[k] = i
			} else {
				out[k], _ = n.Float64()
			}
			continue
		}
		out[k] = v
	}
	return out
}

func TestLegalBotFixtures(t *testing.T) {
	s := newTestStore(t)
	table := pricing.Default()

	var raw []rawEvent
	var all []event.Event
	for day := 1; day <= 4; day++ {
		batch := loadFixture(t, fmt.Sprintf("legal-bot-day-%02d.json", day))
		raw = append(raw, batch...)
		events := make([]event.Event, len(batch))
		for i, r := range batch {
			events[i] = toEvent(t, table, r)
		}
		require.NoError(t, s.Insert(t.Context(), events))
		all = append(all, events...)
	}
	// The second day again, as a client retrying after a lost answer.
	require.NoError(t, s.Insert(t.Context(), all[len(loadFixture(t, "legal-bot-day-01.json")):][:50]))

	// Expected economics straight from the raw JSON.
	sessions := map[string]bool{}
	converted := map[string]bool{}
	var llmCost, toolCost, revenue, brl, savings float64
	var unpricedCalls int64
	for _, r := range raw {
		sessions[r.SessionID] = true
		switch r.EventType {
		case event.TypeLLMCall, event.TypeToolCall:
			cost, status := rawCost(table, r)
			if r.EventType == event.TypeLLMCall {
				llmCost += cost
				if status == event.CostUnpriced {
					unpricedCalls++
				}
			} else {
				toolCost += cost
			}
		case event.TypeOutcomePayment:
			amount, _ := rawNumber(r.Properties, "amount")
			require.Equal(t, "BRL", r.Properties["currency"], "the fixtures pay in reais")
			brl += amount
			revenue += amount * brlRate
			if amount > 0 {
				converted[r.SessionID] = true
			}
		case event.TypeCacheHit:
			v, _ := rawNumber(r.Properties, "saved_cost_usd")
			savings += v
		case event.TypeSessionEnd:
			if r.Properties["reason"] == "converted" {
				converted[r.SessionID] = true
			}
		}
	}
	require.Len(t, sessions, 60, "the fixtures describe 60 sessions")
	require.NotZero(t, brl)

	day := time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)
	f := analytics.Filter{ProductID: "legal-bot", From: day, To: day.AddDate(0, 0, 1)}
	opts := analytics.Options{Now: day.AddDate(0, 0, 2)}

	econ, err := s.Economics(t.Context(), f, opts)
	require.NoError(t, err)
	cost := llmCost + toolCost
	assert.Equal(t, int64(len(sessions)), econ.Sessions)
	assert.Equal(t, int64(len(converted)), econ.ConvertedSessions)
	assert.InDelta(t, revenue, econ.TotalRevenueUSD, moneyDelta)
	assert.InDelta(t, cost, econ.TotalCostUSD, moneyDelta)
	assert.InDelta(t, llmCost, econ.LLMCostUSD, moneyDelta)
	assert.InDelta(t, toolCost, econ.ToolCostUSD, moneyDelta)
	assert.InDelta(t, revenue-cost, econ.GrossMarginUSD, moneyDelta)
	require.NotNil(t, econ.GrossMarginPct)
	assert.InDelta(t, (revenue-cost)/revenue, *econ.GrossMarginPct, moneyDelta)
	assert.InDelta(t, revenue/float64(len(sessions)), econ.AvgRevenuePerSess, moneyDelta)
	assert.InDelta(t, cost/float64(len(sessions)), econ.AvgCostPerSession, moneyDelta)
	require.NotNil(t, econ.CostPerConversion)
	assert.InDelta(t, cost/float64(len(converted)), *econ.CostPerConversion, moneyDelta)
	assert.InDelta(t, savings, econ.CacheSavingsUSD, moneyDelta)
	assert.Equal(t, unpricedCalls, econ.UnpricedLLMCalls)
	assert.Equal(t, map[string]float64{"BRL": brl}, roundMap(econ.RevenueByCurrency))

	// Funnel and topics against the Go reference over the same events.
	ref := refSelect(refSessions(refDedup(all), "legal-bot", opts), f)
	require.Len(t, ref, len(sessions))
	funnel, err := s.Funnel(t.Context(), f, opts)
	require.NoError(t, err)
	assertFunnel(t, refFunnel(ref, analytics.DefaultStages()), funnel)
	assert.Equal(t, int64(len(converted)), funnel[3].Sessions, "every converted session is at the last stage")

	topics, err := s.Topics(t.Context(), f, opts, 20)
	require.NoError(t, err)
	assertTopics(t, refTopics(ref, 20), topics)
	var topicSessions int64
	for _, tr := range topics {
		topicSessions += tr.Sessions
	}
	assert.Equal(t, int64(len(sessions)), topicSessions, "each session has one topic")

	// Half a day: only the sessions that started in it.
	morning := analytics.Filter{ProductID: "legal-bot", From: day, To: day.Add(14 * time.Hour)}
	started := map[string]time.Time{}
	for _, e := range all {
		if first, ok := started[e.SessionID]; !ok || e.Timestamp.Before(first) {
			started[e.SessionID] = e.Timestamp
		}
	}
	var inMorning []string
	for id, ts := range started {
		if ts.Before(morning.To) {
			inMorning = append(inMorning, id)
		}
	}
	sort.Strings(inMorning)
	require.NotEmpty(t, inMorning)
	require.Less(t, len(inMorning), len(sessions))
	list, total, err := s.Sessions(t.Context(), morning, opts, 1000, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(len(inMorning)), total)
	var got []string
	for _, x := range list {
		got = append(got, x.SessionID)
	}
	sort.Strings(got)
	assert.Equal(t, inMorning, got)
}

// roundMap rounds sums of whole amounts that went through floating point.
func roundMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(int64(v*1e6+0.5)) / 1e6
	}
	return out
}
