package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const period = "from=2026-03-06&to=2026-03-07" // a bare `to` date includes that day

func custom(id, session, typ, ts, user string, props map[string]any) ev {
	return ev{EventID: id, SessionID: session, EventType: typ, Timestamp: ts, UserID: user, Properties: props}
}

// customBatches are events the test builds: sessions assigned by the server
// across an inactivity gap and a session.end, out of order over two
// requests; payments in a converted and an unconverted currency; unpriced
// calls; and an invalid event among valid ones.
func customBatches() (first, second []ev, invalidIndex int) {
	auto := func(id, typ, ts, session string, props map[string]any) ev {
		e := custom(id, "", typ, ts, "u-auto", props)
		e.session = session
		return e
	}
	a1 := auto("a1", "message.user", "2026-03-07T10:00:00Z", "auto-A", nil)
	a2 := auto("a2", "action.llm_call", "2026-03-07T10:00:05.250Z", "auto-A", map[string]any{
		"model": "openai/gpt-4.1-2025-04-14", "input_tokens": 1000.0, "cached_input_tokens": 400.0, "output_tokens": 250.0})
	a3 := auto("a3", "message.user", "2026-03-07T19:20:00+09:00", "auto-A", nil) // 10:20 UTC
	a4 := auto("a4", "message.user", "2026-03-07T10:55:00Z", "auto-B", nil)      // 35 min after a3: a new session
	a5 := auto("a5", "session.end", "2026-03-07T10:56:00Z", "auto-B", map[string]any{"reason": "user_left"})
	a6 := auto("a6", "message.user", "2026-03-07T10:57:00Z", "auto-C", nil) // after session.end: a new session

	pay := func(id, typ, ts string, props map[string]any) ev {
		e := custom(id, "sess_pay", typ, ts, "u-pay", props)
		e.session = "sess_pay"
		return e
	}
	p1 := pay("p1", "message.user", "2026-03-07T12:00:00Z", nil)
	p1.Metadata = map[string]any{"topic": "billing", "channel": "web"}
	p2 := pay("p2", "action.llm_call", "2026-03-07T12:00:01Z", map[string]any{
		"model": "claude-sonnet-4-20250514", "provider": "anthropic", "input_tokens": 5000.0,
		"cached_input_tokens": 3000.0, "cache_creation_input_tokens": 1000.0, "output_tokens": 400.0, "duration_ms": 900.0})
	p3 := pay("p3", "action.llm_call", "2026-03-07T12:00:02Z", map[string]any{"model": "acme-llm-7", "input_tokens": 10.0, "output_tokens": 5.0})
	p4 := pay("p4", "action.tool_call", "2026-03-07T12:00:03Z", map[string]any{"tool_name": "search"})
	p5 := pay("p5", "message.user", "2026-03-07T12:01:00Z", nil)
	p5.Metadata = map[string]any{"channel": "whatsapp"}
	p6 := pay("p6", "outcome.payment", "2026-03-07T12:02:00Z", map[string]any{"amount": 20.0, "currency": "eur"})
	p7 := pay("p7", "outcome.payment", "2026-03-07T12:02:00Z", map[string]any{"amount": 15.0, "currency": "CHF"})
	p8 := pay("p8", "outcome.consult_booked", "2026-03-07T12:03:00Z", nil)
	bad := custom("bad1", "sess_pay", "action.llm_call", "2026-03-07T12:04:00Z", "u-pay", map[string]any{"model": "gpt-4o", "input_tokens": -5.0})

	first = []ev{a3, a1, a4, p1, p2, p3, p4}
	second = []ev{a6, a2, bad, a5, p5, p6, p7, p8}
	return first, second, 2
}

func TestCollectorEndToEnd(t *testing.T) {
	c := startCollector(t, "legal-bot", t.TempDir())

	var all []ev
	for _, day := range []string{"legal-bot-day-01.json", "legal-bot-day-02.json", "legal-bot-day-03.json", "legal-bot-day-04.json"} {
		events := loadBatch(t, day)
		r := c.post(t, body(t, events), false)
		require.Equal(t, http.StatusAccepted, r.status, "%s: %s", day, r.raw)
		assert.EqualValues(t, len(events), r.json(t)["accepted"])
		all = append(all, events...)
	}
	// The same batch again: stored and counted once.
	again := loadBatch(t, "legal-bot-day-02.json")
	r := c.post(t, body(t, again), true)
	require.Equal(t, http.StatusAccepted, r.status)

	// The seed example names product my-bot: not this key's product.
	r = c.post(t, body(t, loadBatch(t, "seed-example.json")), false)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "forbidden", r.json(t)["error"].(map[string]any)["code"])

	first, second, badIndex := customBatches()
	r = c.post(t, body(t, first), true)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.raw)
	r = c.post(t, body(t, second), false)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.raw)
	answer := r.json(t)
	assert.EqualValues(t, len(second)-1, answer["accepted"])
	rejected := answer["rejected"].([]any)
	require.Len(t, rejected, 1)
	assert.EqualValues(t, badIndex, rejected[0].(map[string]any)["index"])
	assert.Equal(t, "bad1", rejected[0].(map[string]any)["event_id"])
	for i, e := range second {
		if i != badIndex {
			all = append(all, e)
		}
	}
	all = append(all, first...)

	m := newModel(t, all, time.Now())
	c.waitFor(t, "/v1/economics?"+period, func(a map[string]any) bool {
		return a["sessions"] == float64(len(m.sessions))
	})
	// Everything is written; wait for the last batch of events too.
	time.Sleep(500 * time.Millisecond)

	t.Run("economics", func(t *testing.T) { checkEconomics(t, c, m) })
	t.Run("funnel", func(t *testing.T) { checkFunnel(t, c, m) })
	t.Run("topics", func(t *testing.T) { checkTopics(t, c, m) })
	t.Run("sessions", func(t *testing.T) { checkSessions(t, c, m) })
	t.Run("session detail", func(t *testing.T) { checkDetail(t, c, m) })
	t.Run("errors", func(t *testing.T) { checkErrors(t, c) })

	// The data survives a restart.
	c.stop(t)
	c2 := startCollector(t, "legal-bot", c.dataDir)
	t.Run("after restart", func(t *testing.T) { checkEconomics(t, c2, m) })
}

func checkEconomics(t *testing.T, c *collector, m *model) {
	var sessions, converted, unpriced int
	var revenue, cost, llm, tool, savings float64
	byCurrency := map[string]float64{}
	for _, s := range m.sessions {
		sessions++
		if s.converted {
			converted++
		}
		revenue += s.revenue
		cost += s.cost
		llm += s.llmCost
		tool += s.toolCost
		savings += s.savings
		unpriced += s.unpriced
		for cur, v := range s.byCurrency {
			byCurrency[cur] += v
		}
	}
	a := c.get(t, "/v1/economics?"+period).json(t)
	assert.Equal(t, "legal-bot", a["product_id"])
	assert.Equal(t, "2026-03-06T00:00:00.000Z", a["from"])
	assert.Equal(t, "2026-03-08T00:00:00.000Z", a["to"])
	assert.EqualValues(t, sessions, a["sessions"])
	assert.EqualValues(t, converted, a["converted_sessions"])
	assert.EqualValues(t, unpriced, a["unpriced_llm_calls"])
	for field, want := range map[string]float64{
		"total_revenue_usd":       revenue,
		"total_cost_usd":          cost,
		"llm_cost_usd":            llm,
		"tool_cost_usd":           tool,
		"gross_margin_usd":        revenue - cost,
		"gross_margin_pct":        (revenue - cost) / revenue,
		"avg_revenue_per_session": revenue / float64(sessions),
		"avg_cost_per_session":    cost / float64(sessions),
		"avg_margin_per_session":  (revenue - cost) / float64(sessions),
		"cost_per_conversion":     cost / float64(converted),
		"cache_savings_usd":       savings,
	} {
		got, ok := a[field].(float64)
		if assert.True(t, ok, "%s missing or not a number: %v", field, a[field]) {
			assert.True(t, near(got, want), "%s = %v, want %v", field, got, want)
		}
	}
	gotCur := a["revenue_by_currency"].(map[string]any)
	assert.Len(t, gotCur, len(byCurrency))
	for cur, want := range byCurrency {
		assert.InDelta(t, want, gotCur[cur], 1e-9, cur)
	}
}

func checkFunnel(t *testing.T, c *collector, m *model) {
	names := []string{"reached", "engaged", "artifact", "converted"}
	counts := make([]float64, len(names))
	for _, s := range m.sessions {
		for i, n := range names {
			if n == s.stage {
				for j := 0; j <= i; j++ {
					counts[j]++
				}
			}
		}
	}
	a := c.get(t, "/v1/funnel?"+period).json(t)
	stages := a["stages"].([]any)
	require.Len(t, stages, len(names))
	for i, raw := range stages {
		st := raw.(map[string]any)
		assert.Equal(t, names[i], st["name"])
		assert.Equal(t, counts[i], st["sessions"], names[i])
		prev := counts[0]
		if i > 0 {
			prev = counts[i-1]
		}
		assert.InDelta(t, ratio(counts[i], prev), st["conversion_from_previous"], 1e-12, names[i])
		assert.InDelta(t, ratio(counts[i], counts[0]), st["conversion_from_start"], 1e-12, names[i])
	}
}

func checkTopics(t *testing.T, c *collector, m *model) {
	type row struct {
		sessions, converted  int
		revenue, cost, depth float64
	}
	rows := map[string]*row{}
	for _, s := range m.sessions {
		r := rows[s.topic]
		if r == nil {
			r = &row{}
			rows[s.topic] = r
		}
		r.sessions++
		if s.converted {
			r.converted++
		}
		r.revenue += s.revenue
		r.cost += s.cost
		r.depth += float64(s.depth)
	}
	a := c.get(t, "/v1/topics?"+period).json(t)
	topics := a["topics"].([]any)
	require.Len(t, topics, len(rows))
	prevSessions, prevTopic := 1e18, ""
	for _, raw := range topics {
		got := raw.(map[string]any)
		name := got["topic"].(string)
		want := rows[name]
		require.NotNil(t, want, "unexpected topic %q", name)
		n := float64(want.sessions)
		assert.Equal(t, n, got["sessions"], name)
		assert.EqualValues(t, want.converted, got["converted_sessions"], name)
		assert.InDelta(t, float64(want.converted)/n, got["conversion_rate"], 1e-12, name)
		assert.InDelta(t, want.revenue, got["revenue_usd"], 1e-9, name)
		assert.InDelta(t, want.cost, got["total_cost_usd"], 1e-9, name)
		assert.InDelta(t, want.revenue-want.cost, got["margin_usd"], 1e-9, name)
		assert.InDelta(t, want.depth/n, got["avg_conversation_depth"], 1e-12, name)
		s := got["sessions"].(float64)
		assert.True(t, s < prevSessions || (s == prevSessions && name > prevTopic), "topics ordered by sessions, then topic")
		prevSessions, prevTopic = s, name
	}
}

func fmtTime(ts time.Time) string { return ts.UTC().Format("2006-01-02T15:04:05.000Z") }

func checkSummary(t *testing.T, want *summary, got map[string]any) {
	t.Helper()
	if want.id == want.events[0].SessionID {
		assert.Equal(t, want.id, got["session_id"])
	} else {
		assert.NotEmpty(t, got["session_id"], "the server assigns a session id")
	}
	assert.Equal(t, want.user, got["user_id"])
	assert.Equal(t, "legal-bot", got["product_id"])
	assert.Equal(t, fmtTime(want.started), got["started_at"])
	assert.Equal(t, fmtTime(want.last), got["last_event_at"])
	assert.EqualValues(t, want.last.Sub(want.started).Milliseconds(), got["duration_ms"])
	require.NotNil(t, want.ended)
	assert.Equal(t, fmtTime(*want.ended), got["ended_at"])
	assert.Equal(t, "ended", got["status"])
	assert.EqualValues(t, want.depth, got["conversation_depth"])
	assert.EqualValues(t, want.llm, got["llm_calls"])
	assert.EqualValues(t, want.tools, got["tool_calls"])
	assert.EqualValues(t, want.unpriced, got["unpriced_llm_calls"])
	assert.InDelta(t, want.cost, got["total_cost_usd"], 1e-9)
	assert.InDelta(t, want.revenue, got["revenue_usd"], 1e-9)
	assert.InDelta(t, want.revenue-want.cost, got["margin_usd"], 1e-9)
	assert.InDelta(t, want.savings, got["cache_savings_usd"], 1e-9)
	outcomes := []string{}
	for _, o := range got["outcomes"].([]any) {
		outcomes = append(outcomes, o.(string))
	}
	assert.Equal(t, want.outcomes, outcomes)
	assert.Equal(t, want.converted, got["converted"])
	assert.Equal(t, want.stage, got["funnel_stage"])
	assert.Equal(t, want.topic, got["topic"])
	assert.Equal(t, want.metadata, got["metadata"])
}

func checkSessions(t *testing.T, c *collector, m *model) {
	ordered := m.ordered()
	a := c.get(t, "/v1/sessions?limit=1000&"+period).json(t)
	assert.EqualValues(t, len(ordered), a["total"])
	assert.EqualValues(t, 1000, a["limit"])
	assert.EqualValues(t, 0, a["offset"])
	got := a["sessions"].([]any)
	require.Len(t, got, len(ordered))
	for i, want := range ordered {
		t.Run(want.id, func(t *testing.T) { checkSummary(t, want, got[i].(map[string]any)) })
	}

	// A page in the middle, and a page past the end.
	page := c.get(t, "/v1/sessions?limit=7&offset=7&"+period).json(t)
	pageRows := page["sessions"].([]any)
	require.Len(t, pageRows, 7)
	for i, raw := range pageRows {
		assert.Equal(t, got[7+i].(map[string]any)["session_id"], raw.(map[string]any)["session_id"])
	}
	past := c.get(t, fmt.Sprintf("/v1/sessions?offset=%d&%s", len(ordered)+5, period)).json(t)
	assert.Empty(t, past["sessions"])
	assert.EqualValues(t, len(ordered), past["total"])

	// Filters: the auto-assigned sessions of one user, one outcome, one topic.
	byUser := c.get(t, "/v1/sessions?user_id=u-auto&"+period).json(t)
	assert.EqualValues(t, 3, byUser["total"], "u-auto's events form three sessions: an inactivity gap, then session.end")
	var handoffs, divorce float64
	for _, s := range m.sessions {
		for _, o := range s.outcomes {
			if o == "handoff" {
				handoffs++
			}
		}
		if s.topic == "divorce" {
			divorce++
		}
	}
	assert.Equal(t, handoffs, c.get(t, "/v1/sessions?outcome=handoff&"+period).json(t)["total"])
	assert.Equal(t, divorce, c.get(t, "/v1/sessions?topic=divorce&"+period).json(t)["total"])
	// The period holds sessions whose first event is in [from, to).
	var onSeventh float64
	for _, s := range m.sessions {
		if !s.started.Before(time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)) {
			onSeventh++
		}
	}
	assert.Equal(t, onSeventh, c.get(t, "/v1/sessions?from=2026-03-07&to=2026-03-07").json(t)["total"])
	assert.Equal(t, onSeventh, c.get(t, "/v1/sessions?from="+url.QueryEscape("2026-03-07T09:00:00+09:00")+"&to=2026-03-08").json(t)["total"])
}

func checkDetail(t *testing.T, c *collector, m *model) {
	want := m.sessions["sess_pay"]
	a := c.get(t, "/v1/sessions/sess_pay").json(t)
	checkSummary(t, want, a)
	events := a["events"].([]any)
	require.Len(t, events, len(want.events))
	for i, raw := range events {
		got := raw.(map[string]any)
		e := want.events[i]
		assert.Equal(t, e.EventID, got["event_id"], "events in time order, ties by event_id")
		assert.Equal(t, e.EventType, got["event_type"])
		assert.Equal(t, fmtTime(e.time()), got["timestamp"])
		if e.EventType == "action.llm_call" || e.EventType == "action.tool_call" {
			cost, status := m.cost(e)
			props := got["properties"].(map[string]any)
			assert.InDelta(t, cost, props["cost_usd"], 1e-12, e.EventID)
			assert.Equal(t, status, props["cost_status"], e.EventID)
		}
	}

	// The fixture's sessions with reported costs.
	fixture := m.sessions["sess_00506952"]
	require.NotNil(t, fixture)
	checkSummary(t, fixture, c.get(t, "/v1/sessions/sess_00506952").json(t))
}

func checkErrors(t *testing.T, c *collector) {
	for _, tt := range []struct {
		path   string
		key    string
		status int
		code   string
	}{
		{"/v1/sessions/nope", c.prodKey, 404, "not_found"},
		{"/v1/funnel?from=2026-03-08&to=2026-03-06", c.prodKey, 400, "invalid_parameter"},
		{"/v1/sessions?limit=0", c.prodKey, 400, "invalid_parameter"},
		{"/v1/economics?product_id=other-bot", c.prodKey, 403, "forbidden"},
		{"/v1/economics", c.dashKey, 400, "invalid_parameter"},
		{"/v1/economics", "", 401, "unauthorized"},
	} {
		r := c.do(t, http.MethodGet, tt.path, nil, map[string]string{"X-API-Key": tt.key})
		assert.Equal(t, tt.status, r.status, tt.path)
		assert.Equal(t, tt.code, r.json(t)["error"].(map[string]any)["code"], tt.path)
	}
	// On the shared port, a gzip body cut short is a 400 that says the body
	// does not match its Content-Encoding, whose name is case-insensitive.
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte(`{"events": [` + strings.Repeat(` `, 4096) + `]}`))
	require.NoError(t, w.Close())
	for _, enc := range []string{"gzip", "GZIP", "x-gzip"} {
		h := map[string]string{"X-API-Key": c.prodKey, "Content-Encoding": enc}
		r := c.do(t, http.MethodPost, "/v1/events", buf.Bytes(), h)
		require.Equal(t, http.StatusAccepted, r.status, "%s: %s", enc, r.raw)
		assert.EqualValues(t, 0, r.json(t)["accepted"], enc)
		r = c.do(t, http.MethodPost, "/v1/events", buf.Bytes()[:buf.Len()-12], h)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", enc, r.raw)
		assert.Contains(t, r.json(t)["error"].(map[string]any)["message"], "the body is not valid gzip, as its Content-Encoding says", enc)
	}
	// A dashboard key naming the product reads what the product key reads.
	dash := c.do(t, http.MethodGet, "/v1/economics?product_id=legal-bot&"+period, nil, map[string]string{"X-API-Key": c.dashKey})
	require.Equal(t, http.StatusOK, dash.status, "%s", dash.raw)
	assert.Equal(t, c.get(t, "/v1/economics?"+period).json(t)["sessions"], dash.json(t)["sessions"])
}
