package chstore

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

var day0 = time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)

// TestQueriesMatchReference runs every query on a varied workload, inserted
// in several batches with resent events, and compares each answer with the
// plain Go computation of reference_test.go.
func TestQueriesMatchReference(t *testing.T) {
	s := newTestStore(t)
	events := randomEvents(7, 120, day0)
	for i := 0; i < len(events); i += 97 {
		require.NoError(t, s.Insert(t.Context(), events[i:min(i+97, len(events))]))
	}
	stored := refDedup(events)

	opts := analytics.Options{Now: day0.Add(72 * time.Hour), SessionTimeout: 30 * time.Minute}
	custom := opts
	custom.Stages = []analytics.Stage{
		{Name: "reached"},
		{Name: "talked", MinConversationDepth: 3},
		{Name: "signup"},
		{Name: "used_tool", EventType: event.TypeToolCall},
		{Name: "paid", Converted: true, Outcome: "payment"},
	}

	filters := map[string]analytics.Filter{
		"all":          {ProductID: "alpha"},
		"period":       {ProductID: "alpha", From: day0.Add(12 * time.Hour), To: day0.Add(40 * time.Hour)},
		"other":        {ProductID: "beta", From: day0, To: day0.Add(72 * time.Hour)},
		"topic":        {ProductID: "alpha", Topic: "billing"},
		"unclassified": {ProductID: "beta", Topic: "unclassified"},
		"outcome":      {ProductID: "alpha", Outcome: "artifact"},
		"user":         {ProductID: "beta", UserID: "user-3"},
		"combined":     {ProductID: "alpha", From: day0.Add(6 * time.Hour), To: day0.Add(60 * time.Hour), UserID: "user-1", Topic: "contracts"},
		"empty":        {ProductID: "gamma"},
	}
	for name, f := range filters {
		for optName, o := range map[string]analytics.Options{"default": opts, "custom": custom} {
			t.Run(name+"/"+optName, func(t *testing.T) {
				ref := refSessions(stored, f.ProductID, o)
				sel := refSelect(ref, f)
				stages := normalizeOptions(o).Stages

				funnel, err := s.Funnel(t.Context(), f, o)
				require.NoError(t, err)
				assertFunnel(t, refFunnel(sel, stages), funnel)

				econ, err := s.Economics(t.Context(), f, o)
				require.NoError(t, err)
				assertEconomics(t, refEconomics(sel), econ)

				topics, err := s.Topics(t.Context(), f, o, 2)
				require.NoError(t, err)
				assertTopics(t, refTopics(sel, 2), topics)

				const page = 7
				var got []analytics.SessionSummary
				for offset := 0; ; offset += page {
					list, total, err := s.Sessions(t.Context(), f, o, page, offset)
					require.NoError(t, err)
					assert.Equal(t, int64(len(sel)), total)
					got = append(got, list...)
					if len(list) < page {
						break
					}
				}
				require.Len(t, got, len(sel))
				for i := range sel {
					assertSummary(t, sel[i].summary, got[i])
				}
			})
		}
	}

	t.Run("detail", func(t *testing.T) {
		ref := refSessions(stored, "alpha", opts)
		require.NotEmpty(t, ref)
		for id, r := range ref {
			sum, evs, found, err := s.Session(t.Context(), "alpha", id, opts)
			require.NoError(t, err)
			require.True(t, found, id)
			assertSummary(t, r.summary, sum)
			require.Len(t, evs, len(r.eventList), id)
			for i, want := range r.eventList {
				assert.Equal(t, want.EventID, evs[i].EventID)
				assert.Equal(t, want.EventType, evs[i].EventType)
			}
		}
	})
}

func TestDuplicatesCountOnce(t *testing.T) {
	s := newTestStore(t)
	b := newBuilder("p", "s1", "u", day0).
		add(0, event.TypeMessageUser, nil).
		add(time.Second, event.TypeMessageUser, nil).
		add(time.Second, event.TypeLLMCall, map[string]any{"model": "gpt-4o"}, withCost(0.25, event.CostComputed)).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 10.0}, withAmountUSD(10))
	// The same batch three times, as separate inserts: no merge has run.
	for range 3 {
		require.NoError(t, s.Insert(t.Context(), b.events))
	}
	var rows int64
	require.NoError(t, s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".events",
		func(r resultRows) error { return r.Scan(&rows) }))
	require.Equal(t, int64(3*len(b.events)), rows, "every copy is stored until a merge")

	f := analytics.Filter{ProductID: "p"}
	sum, evs, found, err := s.Session(t.Context(), "p", "s1", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, evs, len(b.events))
	assert.Equal(t, int64(2), sum.ConversationDepth)
	assert.Equal(t, int64(1), sum.LLMCalls)
	assert.InDelta(t, 0.25, sum.TotalCostUSD, moneyDelta)
	assert.InDelta(t, 10.0, sum.RevenueUSD, moneyDelta)

	econ, err := s.Economics(t.Context(), f, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), econ.Sessions)
	assert.InDelta(t, 10.0, econ.TotalRevenueUSD, moneyDelta)
	assert.InDelta(t, 10.0, econ.RevenueByCurrency["USD"], moneyDelta)
	assert.InDelta(t, 0.25, econ.TotalCostUSD, moneyDelta)
}

// TestDuplicateAcrossSessions covers an event id written again with another
// session (a server-assigned session after a restart, say): the last write
// wins everywhere, and the event counts once.
func TestDuplicateAcrossSessions(t *testing.T) {
	s := newTestStore(t)
	first := event.Event{EventID: "e1", SessionID: "old", EventType: event.TypeMessageUser,
		Timestamp: day0, UserID: "u", ProductID: "p"}
	keep := event.Event{EventID: "e0", SessionID: "old", EventType: event.TypeMessageAgent,
		Timestamp: day0.Add(-time.Second), UserID: "u", ProductID: "p"}
	require.NoError(t, s.Insert(t.Context(), []event.Event{keep, first}))
	second := first
	second.SessionID = "new"
	require.NoError(t, s.Insert(t.Context(), []event.Event{second}))

	old, oldEvents, found, err := s.Session(t.Context(), "p", "old", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, int64(0), old.ConversationDepth)
	require.Len(t, oldEvents, 1)
	assert.Equal(t, "e0", oldEvents[0].EventID)

	moved, movedEvents, found, err := s.Session(t.Context(), "p", "new", analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, int64(1), moved.ConversationDepth)
	require.Len(t, movedEvents, 1)

	funnel, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), funnel[0].Sessions)
}

func TestTopicPrecedence(t *testing.T) {
	s := newTestStore(t)
	var events []event.Event
	// The latest explicit topic wins over an earlier one and over a later
	// classified one.
	events = append(events, newBuilder("p", "explicit", "u", day0).
		add(0, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "first"})).
		add(time.Second, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "second"})).
		add(time.Second, event.TypeLLMCall, nil, withTopic("classified"), withCost(0, event.CostComputed)).events...)
	// Event order by time, not arrival: the later-timed explicit topic is
	// sent first.
	late := newBuilder("p", "arrival", "u", day0).
		add(0, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "early"})).
		add(time.Minute, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "late"})).events
	events = append(events, late[1], late[0])
	// Without an explicit topic, the latest classified one.
	events = append(events, newBuilder("p", "classified", "u", day0).
		add(0, event.TypeMessageUser, nil, withTopic("older")).
		add(time.Second, event.TypeMessageAgent, nil, withTopic("newer")).
		add(time.Second, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": ""})).events...)
	// Time decides, not the event id.
	reversed := newBuilder("p", "reversed", "u", day0).
		add(0, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "older"}), withTopic("c-older")).
		add(time.Second, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": "newer"}), withTopic("c-newer")).events
	reversed[0].EventID, reversed[1].EventID = "z", "a"
	events = append(events, reversed...)
	// Neither: unclassified.
	events = append(events, newBuilder("p", "none", "u", day0).
		add(0, event.TypeMessageUser, nil, withMeta(map[string]any{"channel": "web"})).events...)
	require.NoError(t, s.Insert(t.Context(), events))

	want := map[string]string{
		"explicit": "second", "arrival": "late", "classified": "newer", "reversed": "newer", "none": "unclassified",
	}
	for id, topic := range want {
		sum, _, found, err := s.Session(t.Context(), "p", id, analytics.Options{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, topic, sum.Topic, id)
	}

	list, total, err := s.Sessions(t.Context(), analytics.Filter{ProductID: "p", Topic: "unclassified"}, analytics.Options{}, 10, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), total)
	require.Len(t, list, 1)
	assert.Equal(t, "none", list[0].SessionID)

	// The merged metadata keeps the latest value of each key.
	sum, _, _, err := s.Session(t.Context(), "p", "arrival", analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"topic": "late"}, sum.Metadata)
}

func TestStatusAndEndedAt(t *testing.T) {
	s := newTestStore(t)
	now := day0.Add(10 * time.Hour)
	timeout := 30 * time.Minute
	var events []event.Event
	ended := newBuilder("p", "ended", "u", now.Add(-5*time.Minute)).
		add(0, event.TypeMessageUser, nil).
		add(time.Minute, event.TypeSessionEnd, map[string]any{"reason": "user_left"}).
		add(time.Minute, event.TypeMessageAgent, nil)
	events = append(events, ended.events...)
	timedOut := newBuilder("p", "timed_out", "u", now.Add(-2*time.Hour)).
		add(0, event.TypeMessageUser, nil).
		add(10*time.Minute, event.TypeMessageAgent, nil)
	events = append(events, timedOut.events...)
	// Exactly the timeout since the last event is still open.
	edge := newBuilder("p", "edge", "u", now.Add(-timeout)).add(0, event.TypeMessageUser, nil)
	events = append(events, edge.events...)
	justOver := newBuilder("p", "just_over", "u", now.Add(-timeout-time.Millisecond)).add(0, event.TypeMessageUser, nil)
	events = append(events, justOver.events...)
	require.NoError(t, s.Insert(t.Context(), events))

	opts := analytics.Options{Now: now, SessionTimeout: timeout}
	cases := []struct {
		id      string
		status  string
		endedAt *time.Time
	}{
		{"ended", "ended", &ended.events[1].Timestamp},
		{"timed_out", "ended", &timedOut.events[1].Timestamp},
		{"edge", "active", nil},
		{"just_over", "ended", &justOver.events[0].Timestamp},
	}
	for _, c := range cases {
		sum, _, found, err := s.Session(t.Context(), "p", c.id, opts)
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, c.status, sum.Status, c.id)
		if c.endedAt == nil {
			assert.Nil(t, sum.EndedAt, c.id)
		} else if assert.NotNil(t, sum.EndedAt, c.id) {
			assert.True(t, c.endedAt.Equal(sum.EndedAt.Time), "%s: want %v, got %v", c.id, c.endedAt, sum.EndedAt)
		}
	}

	// A longer timeout reopens the timed-out session.
	sum, _, _, err := s.Session(t.Context(), "p", "timed_out", analytics.Options{Now: now, SessionTimeout: 3 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, "active", sum.Status)
	assert.Nil(t, sum.EndedAt)
}

func TestFunnelCustomStages(t *testing.T) {
	s := newTestStore(t)
	var events []event.Event
	add := func(id string, types ...string) {
		b := newBuilder("p", id, "u", day0)
		for _, typ := range types {
			b.add(time.Second, typ, nil)
		}
		events = append(events, b.events...)
	}
	add("a", event.TypeMessageUser)
	add("b", event.TypeMessageUser, event.TypeMessageUser)
	add("c", event.TypeMessageUser, "outcome.quote")
	add("d", event.TypeMessageUser, event.TypeMessageUser, "outcome.quote", event.TypeToolCall)
	add("e", event.TypeMessageUser, event.TypeToolCall)
	events = append(events, newBuilder("p", "f", "u", day0).
		add(0, event.TypeMessageUser, nil).
		add(time.Second, event.TypeMessageUser, nil).
		add(time.Second, event.TypeMessageUser, nil).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 5.0}, withAmountUSD(5)).events...)
	require.NoError(t, s.Insert(t.Context(), events))

	stages := []analytics.Stage{
		{Name: "reached"},
		{Name: "engaged"},
		{Name: "quote"},
		{Name: "tooling", EventType: event.TypeToolCall},
		{Name: "deep_buyer", MinConversationDepth: 3, Converted: true},
	}
	// Furthest stage of each session, by the rules above:
	// a reached; b engaged; c quote; d tooling; e tooling; f deep_buyer.
	furthest := map[string]string{"a": "reached", "b": "engaged", "c": "quote", "d": "tooling", "e": "tooling", "f": "deep_buyer"}
	at := map[string]int{"reached": 0, "engaged": 1, "quote": 2, "tooling": 3, "deep_buyer": 4}
	want := make([]int64, len(stages))
	for _, st := range furthest {
		for i := 0; i <= at[st]; i++ {
			want[i]++
		}
	}

	got, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{Stages: stages})
	require.NoError(t, err)
	require.Len(t, got, len(stages))
	for i, st := range stages {
		assert.Equal(t, st.Name, got[i].Name)
		assert.Equal(t, want[i], got[i].Sessions, st.Name)
		assert.InDelta(t, float64(want[i])/float64(want[0]), got[i].ConversionFromStart, 1e-12, st.Name)
		if i > 0 {
			assert.InDelta(t, float64(want[i])/float64(want[i-1]), got[i].ConversionFromPrevious, 1e-12, st.Name)
		}
	}
	assert.InDelta(t, 1.0, got[0].ConversionFromPrevious, 1e-12)

	for id, st := range furthest {
		sum, _, _, err := s.Session(t.Context(), "p", id, analytics.Options{Stages: stages})
		require.NoError(t, err)
		assert.Equal(t, st, sum.FunnelStage, id)
	}

	// A funnel without "reached": a session that reaches no stage counts
	// nowhere and has no stage.
	only := []analytics.Stage{{Name: "quote"}}
	got, err = s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{Stages: only})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got[0].Sessions)
	sum, _, _, err := s.Session(t.Context(), "p", "a", analytics.Options{Stages: only})
	require.NoError(t, err)
	assert.Empty(t, sum.FunnelStage)

	// No sessions: rates are 0, not NaN.
	got, err = s.Funnel(t.Context(), analytics.Filter{ProductID: "nobody"}, analytics.Options{})
	require.NoError(t, err)
	for _, st := range got {
		assert.Zero(t, st.Sessions)
		assert.Zero(t, st.ConversionFromPrevious)
		assert.Zero(t, st.ConversionFromStart)
	}

	_, err = s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{Stages: []analytics.Stage{{Name: "x"}, {Name: "x"}}})
	require.ErrorContains(t, err, `"x" is listed twice`)
}

func TestRevenueExcludesCurrencyWithoutRate(t *testing.T) {
	s := newTestStore(t)
	b := newBuilder("p", "s", "u", day0).
		add(0, event.TypeOutcomePayment, map[string]any{"amount": 58.0, "currency": "BRL"}, withAmountUSD(58.0*0.19)).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 12.5, "currency": "usd"}, withAmountUSD(12.5)).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 1000.0, "currency": "XYZ"}).
		add(time.Second, event.TypeOutcomePayment, map[string]any{"amount": 3.0}).
		add(time.Second, event.TypeLLMCall, nil, withCost(1.5, event.CostComputed)).
		add(time.Second, event.TypeToolCall, nil, withCost(0.5, event.CostReported))
	require.NoError(t, s.Insert(t.Context(), b.events))

	econ, err := s.Economics(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{})
	require.NoError(t, err)
	revenue := 58.0*0.19 + 12.5 + 3.0 // XYZ has no rate
	cost := 1.5 + 0.5
	assert.InDelta(t, revenue, econ.TotalRevenueUSD, moneyDelta)
	assert.InDelta(t, cost, econ.TotalCostUSD, moneyDelta)
	assert.InDelta(t, 1.5, econ.LLMCostUSD, moneyDelta)
	assert.InDelta(t, 0.5, econ.ToolCostUSD, moneyDelta)
	assert.InDelta(t, revenue-cost, econ.GrossMarginUSD, moneyDelta)
	require.NotNil(t, econ.GrossMarginPct)
	assert.InDelta(t, (revenue-cost)/revenue, *econ.GrossMarginPct, moneyDelta)
	require.NotNil(t, econ.CostPerConversion)
	assert.InDelta(t, cost, *econ.CostPerConversion, moneyDelta)
	assert.Len(t, econ.RevenueByCurrency, 3)
	assert.InDelta(t, 58.0, econ.RevenueByCurrency["BRL"], moneyDelta)
	assert.InDelta(t, 12.5+3.0, econ.RevenueByCurrency["USD"], moneyDelta)
	assert.InDelta(t, 1000.0, econ.RevenueByCurrency["XYZ"], moneyDelta)

	// No revenue and no conversion: the ratios are null.
	s2 := newBuilder("p", "free", "u", day0.Add(time.Hour)).add(0, event.TypeLLMCall, nil, withCost(0.1, event.CostComputed))
	require.NoError(t, s.Insert(t.Context(), s2.events))
	econ, err = s.Economics(t.Context(), analytics.Filter{ProductID: "p", From: day0.Add(time.Hour)}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), econ.Sessions)
	assert.Nil(t, econ.GrossMarginPct)
	assert.Nil(t, econ.CostPerConversion)
	assert.Empty(t, econ.RevenueByCurrency)
	assert.NotNil(t, econ.RevenueByCurrency)
}

func TestSessionsPaginationAndTies(t *testing.T) {
	s := newTestStore(t)
	var events []event.Event
	// Five sessions start at the same millisecond, two later.
	for _, id := range []string{"s-c", "s-a", "s-e", "s-b", "s-d"} {
		events = append(events, newBuilder("p", id, "u1", day0).add(0, event.TypeMessageUser, nil).events...)
	}
	events = append(events, newBuilder("p", "later-1", "u2", day0).add(time.Hour, event.TypeMessageUser, nil).events...)
	events = append(events, newBuilder("p", "later-2", "u1", day0).add(time.Millisecond, event.TypeMessageUser, nil).events...)
	require.NoError(t, s.Insert(t.Context(), events))

	want := []string{"later-1", "later-2", "s-a", "s-b", "s-c", "s-d", "s-e"}
	f := analytics.Filter{ProductID: "p"}
	var got []string
	for offset := 0; offset < 9; offset += 3 {
		list, total, err := s.Sessions(t.Context(), f, analytics.Options{}, 3, offset)
		require.NoError(t, err)
		assert.Equal(t, int64(len(want)), total)
		for _, x := range list {
			got = append(got, x.SessionID)
		}
	}
	assert.Equal(t, want, got)

	list, total, err := s.Sessions(t.Context(), f, analytics.Options{}, 5, 100)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.NotNil(t, list)
	assert.Equal(t, int64(len(want)), total, "a page past the end still reports the total")

	// offset + limit past the largest integer: still a page past the end.
	for _, offset := range []int{math.MaxInt64, math.MaxInt64 - 1000} {
		list, total, err = s.Sessions(t.Context(), f, analytics.Options{}, 1000, offset)
		require.NoError(t, err, "offset %d", offset)
		assert.Empty(t, list)
		assert.Equal(t, int64(len(want)), total)
	}

	list, total, err = s.Sessions(t.Context(), analytics.Filter{ProductID: "p", UserID: "u2"}, analytics.Options{}, 5, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), total)
	require.Len(t, list, 1)
	assert.Equal(t, "later-1", list[0].SessionID)

	_, _, err = s.Sessions(t.Context(), f, analytics.Options{}, 0, 0)
	require.Error(t, err)
	_, _, err = s.Sessions(t.Context(), f, analytics.Options{}, 10, -1)
	require.Error(t, err)
	_, err = s.Topics(t.Context(), f, analytics.Options{}, 0)
	require.Error(t, err)
}

func TestPeriodBoundaries(t *testing.T) {
	s := newTestStore(t)
	from := day0.Add(10 * time.Hour)
	to := day0.Add(20 * time.Hour)
	var events []event.Event
	// Started before from, with events inside the period: not in it.
	events = append(events, newBuilder("p", "before", "u", from.Add(-time.Millisecond)).
		add(0, event.TypeMessageUser, nil).add(time.Hour, event.TypeMessageUser, nil).events...)
	// Started exactly at from: in it.
	events = append(events, newBuilder("p", "at_from", "u", from).add(0, event.TypeMessageUser, nil).events...)
	// Started inside, with events after to: in it.
	events = append(events, newBuilder("p", "inside", "u", to.Add(-time.Millisecond)).
		add(0, event.TypeMessageUser, nil).add(time.Hour, event.TypeMessageUser, nil).events...)
	// Started exactly at to: not in it.
	events = append(events, newBuilder("p", "at_to", "u", to).add(0, event.TypeMessageUser, nil).events...)
	// Sub-millisecond times are stored at millisecond precision.
	events = append(events, newBuilder("p", "sub_ms", "u", from.Add(-time.Microsecond)).add(0, event.TypeMessageUser, nil).events...)
	require.NoError(t, s.Insert(t.Context(), events))

	f := analytics.Filter{ProductID: "p", From: from, To: to}
	list, total, err := s.Sessions(t.Context(), f, analytics.Options{}, 10, 0)
	require.NoError(t, err)
	var ids []string
	for _, x := range list {
		ids = append(ids, x.SessionID)
	}
	assert.Equal(t, []string{"inside", "at_from"}, ids)
	assert.Equal(t, int64(2), total)

	funnel, err := s.Funnel(t.Context(), f, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), funnel[0].Sessions)
	assert.Equal(t, int64(1), funnel[1].Sessions, "inside has two user messages")

	sum, _, _, err := s.Session(t.Context(), "p", "sub_ms", analytics.Options{})
	require.NoError(t, err)
	assert.True(t, sum.StartedAt.Equal(from.Add(-time.Millisecond)), "truncated to the millisecond: %v", sum.StartedAt)
}

func TestSessionDetail(t *testing.T) {
	s := newTestStore(t)
	hostile := "quote ' double \" back \\ nul \x00 tab \t emoji 🦀 ✓ `tick` --comment; DROP TABLE events"
	b := newBuilder("p", "s'1\\", "user\x00\"", day0).
		add(0, event.TypeMessageUser, map[string]any{"content": hostile, "content_length": int64(len(hostile))},
			withMeta(map[string]any{"channel": "whatsapp", "vip": true, "tier": int64(3)})).
		add(time.Second, event.TypeLLMCall, map[string]any{
			"model": "gpt-4o", "input_tokens": int64(1200), "output_tokens": 300.0, "cost_usd": 0.01,
		}, withCost(0.01, event.CostReported)).
		add(time.Second, event.TypeLLMCall, map[string]any{"model": "mystery"}, unpriced).
		add(time.Second, event.TypeToolCall, map[string]any{"tool_name": "search"}, withCost(0.002, event.CostComputed),
			withMeta(map[string]any{"channel": "web"})).
		add(time.Second, "outcome.custom_thing", map[string]any{"nested": map[string]any{"list": []any{int64(1), "two", 3.5}}})
	// Same time as the tool call, smaller id: sorts before it.
	tie := event.Event{EventID: b.events[3].EventID[:len(b.events[3].EventID)-3] + "000", SessionID: b.session,
		EventType: event.TypeMessageAgent, Timestamp: b.events[3].Timestamp, UserID: b.user, ProductID: "p"}
	events := append([]event.Event{tie}, b.events...)
	require.NoError(t, s.Insert(t.Context(), events))

	sum, evs, found, err := s.Session(t.Context(), "p", b.session, analytics.Options{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, b.user, sum.UserID)
	assert.Equal(t, []string{"custom_thing"}, sum.Outcomes)
	assert.Equal(t, int64(1), sum.UnpricedLLMCalls)
	assert.InDelta(t, 0.012, sum.TotalCostUSD, moneyDelta)
	jsonEqual(t, map[string]any{"channel": "web", "vip": true, "tier": 3}, sum.Metadata)

	wantOrder := []string{b.events[0].EventID, b.events[1].EventID, b.events[2].EventID, tie.EventID, b.events[3].EventID, b.events[4].EventID}
	require.Len(t, evs, len(wantOrder))
	for i, id := range wantOrder {
		assert.Equal(t, id, evs[i].EventID, "position %d", i)
		assert.Equal(t, b.session, evs[i].SessionID)
		assert.Equal(t, "p", evs[i].ProductID)
		assert.Equal(t, b.user, evs[i].UserID)
	}
	assert.Equal(t, hostile, evs[0].Properties["content"])
	jsonEqual(t, b.events[0].Metadata, evs[0].Metadata)
	jsonEqual(t, map[string]any{
		"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.01, "cost_status": "reported",
	}, evs[1].Properties)
	jsonEqual(t, map[string]any{"model": "mystery", "cost_usd": nil, "cost_status": "unpriced"}, evs[2].Properties)
	assert.Nil(t, evs[3].Properties, "a message without properties has none")
	jsonEqual(t, map[string]any{"tool_name": "search", "cost_usd": 0.002, "cost_status": "computed"}, evs[4].Properties)
	jsonEqual(t, b.events[4].Properties, evs[5].Properties)
	assert.True(t, evs[0].Timestamp.Equal(day0))

	_, _, found, err = s.Session(t.Context(), "p", "unknown", analytics.Options{})
	require.NoError(t, err)
	assert.False(t, found)
	_, _, found, err = s.Session(t.Context(), "other-product", b.session, analytics.Options{})
	require.NoError(t, err)
	assert.False(t, found, "a session of another product is not found")
}

func TestProductsAreSeparate(t *testing.T) {
	s := newTestStore(t)
	// The same session and event ids in two products are two sessions.
	one := newBuilder("one", "s", "u", day0).add(0, event.TypeMessageUser, nil).add(time.Second, event.TypeMessageUser, nil)
	two := newBuilder("two", "s", "u", day0).add(0, event.TypeMessageUser, nil)
	require.NoError(t, s.Insert(t.Context(), append(one.events, two.events...)))

	for product, depth := range map[string]int64{"one": 2, "two": 1} {
		sum, evs, found, err := s.Session(t.Context(), product, "s", analytics.Options{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, depth, sum.ConversationDepth, product)
		assert.Len(t, evs, int(depth), product)
	}
}

func TestHostileValuesInFilters(t *testing.T) {
	s := newTestStore(t)
	product, user, topic := "prod'uct\\", "user\x00'; --", "top`ic\"\\'"
	// Long session ids spread the metadata lookup over several queries.
	long := func(i int) string { return strings.Repeat("x", 20_000) + "'" + strconv.Itoa(i) }
	var events []event.Event
	for i := range 8 {
		events = append(events, newBuilder(product, long(i), user, day0.Add(time.Duration(i)*time.Second)).
			add(0, event.TypeMessageUser, nil, withMeta(map[string]any{"topic": topic, "n": int64(i)})).
			add(time.Second, "outcome.it's", nil).events...)
	}
	require.NoError(t, s.Insert(t.Context(), events))

	f := analytics.Filter{ProductID: product, Topic: topic, UserID: user, Outcome: "it's"}
	list, total, err := s.Sessions(t.Context(), f, analytics.Options{}, 100, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(8), total)
	require.Len(t, list, 8)
	for i, sum := range list {
		n := 7 - i // newest first
		assert.Equal(t, long(n), sum.SessionID)
		jsonEqual(t, map[string]any{"topic": topic, "n": n}, sum.Metadata)
		assert.Equal(t, []string{"it's"}, sum.Outcomes)
	}

	topics, err := s.Topics(t.Context(), analytics.Filter{ProductID: product}, analytics.Options{}, 5)
	require.NoError(t, err)
	require.Len(t, topics, 1)
	assert.Equal(t, topic, topics[0].Topic)

	stages := []analytics.Stage{{Name: "it's"}, {Name: "x", EventType: "outcome.it's", Outcome: "it's"}}
	funnel, err := s.Funnel(t.Context(), analytics.Filter{ProductID: product}, analytics.Options{Stages: stages})
	require.NoError(t, err)
	assert.Equal(t, int64(8), funnel[1].Sessions)
}
