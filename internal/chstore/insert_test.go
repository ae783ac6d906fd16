package chstore

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

// typedRow is what the analytics read from the typed columns.
type typedRow struct {
	Model, Provider                                    string
	Input, Output, Cached, CacheCreation, Reasoning    int64
	DurationMS                                         float64
	CostUSD                                            *float64
	CostStatus, ToolName                               string
	Saved, Amount                                      float64
	Currency                                           string
	AmountUSD                                          *float64
	MetadataTopic, ClassifiedTopic, EndReason, Outcome string
}

func readTyped(t *testing.T, s *Store, eventID string) typedRow {
	t.Helper()
	var r typedRow
	n := 0
	sql := "SELECT toString(model), toString(provider), input_tokens, output_tokens, cached_input_tokens, " +
		"cache_creation_input_tokens, reasoning_tokens, duration_ms, cost_usd, toString(cost_status), toString(tool_name), " +
		"saved_cost_usd, amount, toString(currency), amount_usd, metadata_topic, toString(classified_topic), " +
		"toString(end_reason), toString(outcome) FROM " + s.db + ".events FINAL WHERE event_id = " + quoteString(eventID)
	err := s.query(t.Context(), sqlText(sql), func(rows resultRows) error {
		n++
		return rows.Scan(&r.Model, &r.Provider, &r.Input, &r.Output, &r.Cached, &r.CacheCreation, &r.Reasoning,
			&r.DurationMS, &r.CostUSD, &r.CostStatus, &r.ToolName, &r.Saved, &r.Amount, &r.Currency, &r.AmountUSD,
			&r.MetadataTopic, &r.ClassifiedTopic, &r.EndReason, &r.Outcome)
	})
	require.NoError(t, err)
	require.Equal(t, 1, n, eventID)
	return r
}

func TestInsertTypedColumns(t *testing.T) {
	s := newTestStore(t)
	b := newBuilder("p", "s", "u", day0).
		// Token counts as pcommon's AsRaw gives them (int64 or float64)
		// and as numeric strings.
		add(0, event.TypeLLMCall, map[string]any{
			"model": "gpt-4o", "provider": "openai", "input_tokens": int64(1200), "output_tokens": 350.0,
			"cached_input_tokens": "200", "cache_creation_input_tokens": int64(10), "reasoning_tokens": 5.0,
			"duration_ms": 812.5,
		}, withCost(0.0042, event.CostComputed), withTopic("billing"), withMeta(map[string]any{"topic": "contracts"})).
		add(time.Second, event.TypeToolCall, map[string]any{"tool_name": "lookup", "duration_ms": int64(30), "cost_usd": 0.001},
			withCost(0.001, event.CostReported)).
		add(time.Second, event.TypeCacheHit, map[string]any{"cache_name": "sem", "saved_cost_usd": 0.0163}).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 49.0, "currency": " brl "}, withAmountUSD(9.8)).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": int64(5)}).
		add(time.Second, "outcome.artifact", map[string]any{"kind": "contract"}).
		add(time.Second, event.TypeSessionEnd, map[string]any{"reason": "converted"})
	require.NoError(t, s.Insert(t.Context(), b.events))

	ev := b.events
	want := map[string]typedRow{
		ev[0].EventID: {Model: "gpt-4o", Provider: "openai", Input: 1200, Output: 350, Cached: 200, CacheCreation: 10,
			Reasoning: 5, DurationMS: 812.5, CostUSD: ev[0].CostUSD, CostStatus: "computed",
			MetadataTopic: "contracts", ClassifiedTopic: "billing"},
		ev[1].EventID: {ToolName: "lookup", DurationMS: 30, CostUSD: ptr(0.001), CostStatus: "reported"},
		ev[2].EventID: {Saved: 0.0163},
		ev[3].EventID: {Amount: 49, Currency: "BRL", AmountUSD: ptr(9.8), Outcome: "payment"},
		// US dollars without the processor's conversion keep their amount.
		ev[4].EventID: {Amount: 5, Currency: "USD", AmountUSD: ptr(5.0), Outcome: "payment"},
		ev[5].EventID: {Outcome: "artifact"},
		ev[6].EventID: {EndReason: "converted"},
	}
	for id, w := range want {
		assert.Equal(t, w, readTyped(t, s, id), id)
	}
}

func TestInsertFillsMissingCostStatus(t *testing.T) {
	s := newTestStore(t)
	b := newBuilder("p", "s", "u", day0).
		// No processor in the pipeline: the property is a reported cost.
		add(0, event.TypeLLMCall, map[string]any{"model": "m", "cost_usd": 0.5}).
		// No cost at all: unpriced.
		add(time.Second, event.TypeLLMCall, map[string]any{"model": "m"}).
		add(time.Second, event.TypeToolCall, map[string]any{"tool_name": "x"}).
		// The processor's answer wins over the property.
		add(time.Second, event.TypeLLMCall, map[string]any{"model": "m", "cost_usd": 9.0}, withCost(0.25, event.CostComputed))
	require.NoError(t, s.Insert(t.Context(), b.events))

	ev := b.events
	assert.Equal(t, typedRow{Model: "m", CostUSD: ptr(0.5), CostStatus: "reported"}, readTyped(t, s, ev[0].EventID))
	assert.Equal(t, typedRow{Model: "m", CostStatus: "unpriced"}, readTyped(t, s, ev[1].EventID))
	assert.Equal(t, typedRow{ToolName: "x", CostStatus: "unpriced"}, readTyped(t, s, ev[2].EventID))
	assert.Equal(t, typedRow{Model: "m", CostUSD: ptr(0.25), CostStatus: "computed"}, readTyped(t, s, ev[3].EventID))

	sum, _, _, err := s.Session(t.Context(), "p", "s", analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), sum.UnpricedLLMCalls)
	assert.InDelta(t, 0.5+0.25, sum.TotalCostUSD, moneyDelta)
}

func TestInsertRejectsInvalidEventsAndKeepsTheRest(t *testing.T) {
	s := newTestStore(t)
	good := event.Event{EventID: "good", SessionID: "s", EventType: event.TypeMessageUser, Timestamp: day0, UserID: "u", ProductID: "p"}
	noSession := good
	noSession.EventID, noSession.SessionID = "no-session", ""
	noID := good
	noID.EventID = ""
	ancient := good
	ancient.EventID, ancient.Timestamp = "ancient", time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	future := good
	future.EventID, future.Timestamp = "future", time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)

	err := s.Insert(t.Context(), []event.Event{noSession, good, noID, ancient, future})
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	assert.ErrorContains(t, err, "4 of 5 events cannot be stored")
	assert.ErrorContains(t, err, `event 0 (event_id "no-session"): session_id must not be empty`)
	assert.ErrorContains(t, err, `event 2 (event_id ""): event_id must not be empty`)
	assert.ErrorContains(t, err, `event 3 (event_id "ancient"): timestamp 1800-01-01T00:00:00Z is outside`)
	assert.ErrorContains(t, err, `event 4 (event_id "future")`)

	_, evs, found, err := s.Session(t.Context(), "p", "s", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	require.Len(t, evs, 1)
	assert.Equal(t, "good", evs[0].EventID)

	require.NoError(t, s.Insert(t.Context(), nil), "nothing to insert is not an error")
}

func TestInsertNonFiniteValues(t *testing.T) {
	s := newTestStore(t)
	nan, inf := math.NaN(), math.Inf(1)
	b := newBuilder("p", "s", "u", day0).
		add(0, event.TypeLLMCall, map[string]any{"model": "m", "duration_ms": nan, "input_tokens": inf,
			"nested": map[string]any{"x": nan, "list": []any{inf, 1.0}}},
			func(e *event.Event) { e.CostUSD, e.CostStatus = &inf, event.CostReported },
			withMeta(map[string]any{"score": nan, "channel": "web"})).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": nan, "currency": "BRL"}, withAmountUSD(nan))
	require.NoError(t, s.Insert(t.Context(), b.events))

	row := readTyped(t, s, b.events[0].EventID)
	assert.Equal(t, typedRow{Model: "m", CostStatus: "reported"}, row, "non-finite numbers are stored as absent")
	sum, evs, _, err := s.Session(t.Context(), "p", "s", analytics.Options{})
	require.NoError(t, err)
	assert.Zero(t, sum.TotalCostUSD)
	assert.Zero(t, sum.RevenueUSD)
	jsonEqual(t, map[string]any{"score": nil, "channel": "web"}, evs[0].Metadata)
	jsonEqual(t, map[string]any{"x": nil, "list": []any{nil, 1}}, evs[0].Properties["nested"])
}

func TestEngineErrorsAreClassified(t *testing.T) {
	s := newTestStore(t)
	// Rows the engine cannot parse can never succeed.
	err := s.exec(t.Context(), "INSERT INTO "+s.db+".events (product_id, timestamp) FORMAT JSONEachRow\n"+
		`{"product_id": "p", "timestamp": "not a time"}`)
	require.Error(t, err)
	assert.True(t, IsPermanent(err), "%v", err)

	err = s.exec(t.Context(), "SELEC 1")
	require.Error(t, err)
	assert.True(t, IsPermanent(err), "%v", err)

	// A missing table may be created by an operator: retry.
	err = s.exec(t.Context(), "INSERT INTO "+s.db+".missing (x) VALUES (1)")
	require.Error(t, err)
	assert.False(t, IsPermanent(err), "%v", err)

	// A scan into the wrong Go type is a bug in the query, not the data;
	// it is reported, not retried.
	err = s.query(t.Context(), "SELECT toUInt8(1)", func(r resultRows) error {
		var v int64
		return r.Scan(&v)
	})
	require.ErrorContains(t, err, "cannot scan UInt8 into *int64")
	assert.True(t, IsPermanent(err))
}

func TestInsertLargeBatch(t *testing.T) {
	s := newTestStore(t)
	const n = 5000
	events := make([]event.Event, n)
	for i := range events {
		events[i] = event.Event{
			EventID: fmt.Sprintf("e%05d", i), SessionID: fmt.Sprintf("s%03d", i%200), EventType: event.TypeMessageUser,
			Timestamp: day0.Add(time.Duration(i) * time.Second), UserID: "u", ProductID: "p",
			Properties: map[string]any{"content_length": int64(i)},
		}
	}
	start := time.Now()
	require.NoError(t, s.Insert(t.Context(), events))
	t.Logf("inserted %d events in %s", n, time.Since(start))

	funnel, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(200), funnel[0].Sessions)
	assert.Equal(t, int64(200), funnel[1].Sessions, "every session has 25 user messages")
}
