package queryapi

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentpulse/agentpulse/internal/analytics"
)

// wantSessions is the /v1/sessions answer for a page of refs.
func wantSessions(refs []*refSession, limit, offset int) map[string]any {
	page := []any{}
	for i := offset; i < len(refs) && i < offset+limit; i++ {
		page = append(page, refs[i].json)
	}
	return map[string]any{"sessions": page, "total": len(refs), "limit": limit, "offset": offset}
}

// wantFunnel counts each session at its furthest stage and every stage
// before it.
func wantFunnel(product string, from, to time.Time, refs []*refSession, stages []analytics.Stage) map[string]any {
	counts := make([]int, len(stages))
	for _, r := range refs {
		for i := 0; i <= r.stage; i++ {
			counts[i]++
		}
	}
	rate := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	rows := []any{}
	for i, st := range stages {
		prev := counts[0]
		if i > 0 {
			prev = counts[i-1]
		}
		rows = append(rows, map[string]any{
			"name":                     st.Name,
			"sessions":                 counts[i],
			"conversion_from_previous": rate(counts[i], prev),
			"conversion_from_start":    rate(counts[i], counts[0]),
		})
	}
	return map[string]any{"product_id": product, "from": ms(from), "to": ms(to), "stages": rows}
}

func wantEconomics(product string, from, to time.Time, refs []*refSession) map[string]any {
	var n, converted, unpriced int64
	var revenue, cost, llm, tool, savings float64
	byCurrency := map[string]float64{}
	for _, r := range refs {
		n++
		if r.converted {
			converted++
		}
		revenue += r.revenue
		cost += r.cost
		llm += r.llmCost
		tool += r.toolCost
		savings += r.savings
		unpriced += r.unpriced
		for c, a := range r.currencies {
			byCurrency[c] += a
		}
	}
	margin := revenue - cost
	per := func(v float64) float64 {
		if n == 0 {
			return 0
		}
		return v / float64(n)
	}
	var pct, cpc any
	if revenue != 0 {
		pct = margin / revenue
	}
	if converted != 0 {
		cpc = cost / float64(converted)
	}
	return map[string]any{
		"product_id":              product,
		"from":                    ms(from),
		"to":                      ms(to),
		"sessions":                n,
		"converted_sessions":      converted,
		"total_revenue_usd":       revenue,
		"total_cost_usd":          cost,
		"llm_cost_usd":            llm,
		"tool_cost_usd":           tool,
		"gross_margin_usd":        margin,
		"gross_margin_pct":        pct,
		"avg_revenue_per_session": per(revenue),
		"avg_cost_per_session":    per(cost),
		"avg_margin_per_session":  per(margin),
		"cost_per_conversion":     cpc,
		"cache_savings_usd":       savings,
		"unpriced_llm_calls":      unpriced,
		"revenue_by_currency":     byCurrency,
	}
}

func wantTopics(refs []*refSession, limit int) map[string]any {
	type agg struct {
		topic               string
		n, converted, depth int64
		revenue, cost       float64
	}
	groups := map[string]*agg{}
	for _, r := range refs {
		g := groups[r.topic]
		if g == nil {
			g = &agg{topic: r.topic}
			groups[r.topic] = g
		}
		g.n++
		if r.converted {
			g.converted++
		}
		g.depth += r.depth
		g.revenue += r.revenue
		g.cost += r.cost
	}
	var list []*agg
	for _, g := range groups {
		list = append(list, g)
	}
	slices.SortFunc(list, func(a, b *agg) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.topic, b.topic))
	})
	rows := []any{}
	for i, g := range list {
		if i == limit {
			break
		}
		rows = append(rows, map[string]any{
			"topic":                  g.topic,
			"sessions":               g.n,
			"converted_sessions":     g.converted,
			"conversion_rate":        float64(g.converted) / float64(g.n),
			"revenue_usd":            g.revenue,
			"total_cost_usd":         g.cost,
			"margin_usd":             g.revenue - g.cost,
			"avg_conversation_depth": float64(g.depth) / float64(g.n),
		})
	}
	return map[string]any{"topics": rows}
}

func wantSession(r *refSession, events []map[string]any) map[string]any {
	m := make(map[string]any, len(r.json)+1)
	for k, v := range r.json {
		m[k] = v
	}
	m["events"] = events
	return m
}

func TestEndpoints(t *testing.T) {
	cfg := newTestConfig(t)
	cfg.Products = map[string]ProductConfig{"legal-bot": {FunnelStages: legalStages}}
	_, base := startExtension(t, cfg, nil)
	now := time.Now()
	events := dataset(now)
	insertDataset(t, cfg, events)
	legal := summarize(events, "legal-bot", legalStages, time.Now(), cfg.SessionTimeout)
	other := summarize(events, "other-bot", analytics.DefaultStages(), time.Now(), cfg.SessionTimeout)

	day := t0.Truncate(24 * time.Hour) // 2025-03-10T00:00Z
	dayEnd := day.AddDate(0, 0, 1)     // to=2025-03-10 covers that whole day
	twoDaysEnd := day.AddDate(0, 0, 2) // to=2025-03-11
	oneDay := inPeriod(legal, day, dayEnd, nil)
	twoDays := inPeriod(legal, day, twoDaysEnd, nil)
	nowMS := now.Truncate(time.Millisecond)
	recent := inPeriod(legal, nowMS.Add(-defaultPeriod), nowMS.Add(time.Hour), nil)
	has := func(outcome string) func(*refSession) bool {
		return func(r *refSession) bool { return slices.Contains(r.outcomes, outcome) }
	}

	t.Run("sessions of one day", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-10", legalKey)
		assertJSON(t, wantSessions(oneDay, 50, 0), got)
	})
	t.Run("sessions page", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-11&limit=2&offset=1", legalKey)
		assertJSON(t, wantSessions(twoDays, 2, 1), got)
	})
	t.Run("sessions offset past the end", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-11&offset=40", legalKey)
		assertJSON(t, wantSessions(twoDays, 50, 40), got)
	})
	t.Run("sessions with an outcome", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-11&outcome=payment", legalKey)
		assertJSON(t, wantSessions(inPeriod(legal, day, twoDaysEnd, has("payment")), 50, 0), got)
	})
	t.Run("sessions of a user", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-11&user_id=u1", legalKey)
		want := inPeriod(legal, day, twoDaysEnd, func(r *refSession) bool { return r.json["user_id"] == "u1" })
		assertJSON(t, wantSessions(want, 50, 0), got)
	})
	t.Run("sessions of a topic", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?from=2025-03-10&to=2025-03-11&topic=contracts", legalKey)
		want := inPeriod(legal, day, twoDaysEnd, func(r *refSession) bool { return r.topic == "contracts" })
		assertJSON(t, wantSessions(want, 50, 0), got)
	})
	t.Run("offset with an unescaped plus", func(t *testing.T) {
		// 18:00+09:00 is 09:00Z, when s1 starts; s2 starts at 10:00Z, the
		// excluded end of the period.
		got := get(t, base, "/v1/sessions?from=2025-03-10T18:00:00+09:00&to=2025-03-10T19:00:00+09:00", legalKey)
		want := inPeriod(legal, t0, t0.Add(time.Hour), nil)
		assertJSON(t, wantSessions(want, 50, 0), got)
	})
	t.Run("sessions of the last 30 days by default", func(t *testing.T) {
		got := get(t, base, "/v1/sessions", legalKey)
		assertJSON(t, wantSessions(recent, 50, 0), got)
	})
	t.Run("dashboard key reads another product of its organization", func(t *testing.T) {
		got := get(t, base, "/v1/sessions?product_id=other-bot&from=2025-03-10&to=2025-03-10", acmeDashKey)
		assertJSON(t, wantSessions(inPeriod(other, day, dayEnd, nil), 50, 0), got)
	})

	t.Run("funnel with custom stages", func(t *testing.T) {
		got := get(t, base, "/v1/funnel?from=2025-03-10&to=2025-03-11", legalKey)
		assertJSON(t, wantFunnel("legal-bot", day, twoDaysEnd, twoDays, legalStages), got)
	})
	t.Run("funnel with default stages", func(t *testing.T) {
		got := get(t, base, "/v1/funnel?from=2025-03-10&to=2025-03-11&product_id=other-bot", acmeDashKey)
		want := inPeriod(other, day, twoDaysEnd, nil)
		assertJSON(t, wantFunnel("other-bot", day, twoDaysEnd, want, analytics.DefaultStages()), got)
	})
	t.Run("funnel of a topic", func(t *testing.T) {
		got := get(t, base, "/v1/funnel?from=2025-03-10&to=2025-03-11&topic=contracts", legalKey)
		want := inPeriod(legal, day, twoDaysEnd, func(r *refSession) bool { return r.topic == "contracts" })
		assertJSON(t, wantFunnel("legal-bot", day, twoDaysEnd, want, legalStages), got)
	})
	t.Run("funnel of an empty period", func(t *testing.T) {
		from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
		got := get(t, base, "/v1/funnel?from=2020-01-01&to=2020-01-01T12:00:00Z", legalKey)
		assertJSON(t, wantFunnel("legal-bot", from, to, nil, legalStages), got)
	})

	t.Run("economics", func(t *testing.T) {
		got := get(t, base, "/v1/economics?from=2025-03-10&to=2025-03-11", legalKey)
		assertJSON(t, wantEconomics("legal-bot", day, twoDaysEnd, twoDays), got)
	})
	t.Run("economics without revenue or conversions", func(t *testing.T) {
		got := get(t, base, "/v1/economics?from=2025-03-11&to=2025-03-11", legalKey)
		want := inPeriod(legal, dayEnd, twoDaysEnd, nil)
		assertJSON(t, wantEconomics("legal-bot", dayEnd, twoDaysEnd, want), got)
	})
	t.Run("economics of an empty period", func(t *testing.T) {
		from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		got := get(t, base, "/v1/economics?from=2020-01-01&to=2020-01-01", legalKey)
		assertJSON(t, wantEconomics("legal-bot", from, from.AddDate(0, 0, 1), nil), got)
	})

	t.Run("topics", func(t *testing.T) {
		got := get(t, base, "/v1/topics?from=2025-03-10&to=2025-03-11", legalKey)
		assertJSON(t, wantTopics(twoDays, defaultTopicsLimit), got)
	})
	t.Run("topics limited", func(t *testing.T) {
		got := get(t, base, "/v1/topics?from=2025-03-10&to=2025-03-11&limit=2", legalKey)
		assertJSON(t, wantTopics(twoDays, 2), got)
	})

	t.Run("one session with its events", func(t *testing.T) {
		got := get(t, base, "/v1/sessions/s1", legalKey)
		assertJSON(t, wantSession(legal["s1"], storedEvents(events, "legal-bot", "s1")), got)
	})
	t.Run("an open session", func(t *testing.T) {
		got := get(t, base, "/v1/sessions/s5", legalKey)
		assertJSON(t, wantSession(legal["s5"], storedEvents(events, "legal-bot", "s5")), got)
	})
	t.Run("the same session id in another product", func(t *testing.T) {
		want := wantSession(other["s1"], storedEvents(events, "other-bot", "s1"))
		assertJSON(t, want, get(t, base, "/v1/sessions/s1", otherKey))
		assertJSON(t, want, get(t, base, "/v1/sessions/s1?product_id=other-bot", acmeDashKey))
	})
	t.Run("unknown sessions", func(t *testing.T) {
		for _, path := range []string{
			"/v1/sessions/nope",
			"/v1/sessions/o2", // other-bot's
			"/v1/sessions/" + url.PathEscape("s1' OR 1=1 --"),
			"/v1/sessions/%E2%82%AC%00%FF",
		} {
			r := do(t, base, request{path: path, key: legalKey})
			assertError(t, r, http.StatusNotFound, "not_found", "legal-bot")
		}
	})
}

func TestHostileFilterValues(t *testing.T) {
	cfg := newTestConfig(t)
	_, base := startExtension(t, cfg, nil)
	events := dataset(time.Now())
	insertDataset(t, cfg, events)

	// Values that would break naive SQL or JSON match nothing and fail
	// nothing.
	for _, raw := range []string{"'", `\`, "') OR ('1'='1", "\xff\xfe", "\x00", "\u200b", strings.Repeat("x", 1024)} {
		v := url.QueryEscape(raw)
		for _, p := range []string{"topic", "outcome", "user_id"} {
			got := get(t, base, "/v1/sessions?from=2025-01-01&"+p+"="+v, legalKey)
			assertJSON(t, map[string]any{"sessions": []any{}, "total": 0, "limit": 50, "offset": 0}, got)
		}
		got := get(t, base, "/v1/topics?from=2025-01-01&topic="+v, legalKey)
		assertJSON(t, map[string]any{"topics": []any{}}, got)
	}
	// Far bounds are accepted and simply select everything stored.
	legal := summarize(events, "legal-bot", analytics.DefaultStages(), time.Now(), cfg.SessionTimeout)
	from := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	got := get(t, base, "/v1/sessions?from=0001-01-01&to=9999-12-30&limit=1000", legalKey)
	assertJSON(t, wantSessions(inPeriod(legal, from, to, nil), 1000, 0), got)
}
