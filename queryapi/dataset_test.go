package queryapi

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/event"
)

// t0 is the start of the test data: Monday 2025-03-10 09:00 UTC.
var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// legalStages is the custom funnel of legal-bot in the tests.
var legalStages = []analytics.Stage{{Name: "reached"}, {Name: "engaged"}, {Name: "consult_booked"}, {Name: "converted"}}

func f64(v float64) *float64 { return &v }

type evOpt func(*event.Event)

func meta(kv ...any) evOpt {
	return func(e *event.Event) {
		e.Metadata = map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Metadata[kv[i].(string)] = kv[i+1]
		}
	}
}

func props(kv ...any) evOpt {
	return func(e *event.Event) {
		e.Properties = map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Properties[kv[i].(string)] = kv[i+1]
		}
	}
}

func cost(usd *float64, status string) evOpt {
	return func(e *event.Event) { e.CostUSD, e.CostStatus = usd, status }
}

func amountUSD(v float64) evOpt { return func(e *event.Event) { e.AmountUSD = &v } }

func classified(topic string) evOpt { return func(e *event.Event) { e.Topic = topic } }

func ev(product, session, id, user, typ string, at time.Time, opts ...evOpt) event.Event {
	e := event.Event{EventID: id, SessionID: session, EventType: typ, Timestamp: at, UserID: user, ProductID: product}
	for _, o := range opts {
		o(&e)
	}
	return e
}

// dataset is the events of the endpoint tests, as the processor would hand
// them to the exporter (costs and USD amounts filled in).
func dataset(now time.Time) []event.Event {
	const lb, ob = "legal-bot", "other-bot"
	s := time.Second
	return []event.Event{
		// s1: three user messages, a consult, a payment in USD, ended as converted.
		ev(lb, "s1", "s1-01", "u1", "message.user", t0, meta("channel", "web", "topic", "divorce"), props("content_length", int64(12))),
		ev(lb, "s1", "s1-02", "u1", "message.agent", t0.Add(10*s), props("content_length", int64(40))),
		ev(lb, "s1", "s1-03", "u1", "action.llm_call", t0.Add(11*s),
			props("model", "gpt-4o", "input_tokens", int64(1000), "output_tokens", int64(200)), cost(f64(0.0045), "computed")),
		ev(lb, "s1", "s1-04", "u1", "message.user", t0.Add(60*s), meta("channel", "mobile")),
		ev(lb, "s1", "s1-05", "u1", "action.tool_call", t0.Add(61*s),
			props("tool_name", "search", "cost_usd", 0.005), cost(f64(0.005), "reported")),
		ev(lb, "s1", "s1-06", "u1", "action.llm_call", t0.Add(62*s), props("model", "mystery-1"), cost(nil, "unpriced")),
		ev(lb, "s1", "s1-07", "u1", "message.user", t0.Add(120*s)),
		ev(lb, "s1", "s1-08", "u1", "outcome.consult_booked", t0.Add(130*s), props("slot", "2025-03-12T10:00")),
		ev(lb, "s1", "s1-09", "u1", "outcome.payment", t0.Add(140*s), props("amount", 150.0, "currency", "USD"), amountUSD(150)),
		ev(lb, "s1", "s1-10", "u1", "session.end", t0.Add(150*s), props("reason", "converted")),

		// s2: engaged, an artifact, topic from metadata.
		ev(lb, "s2", "s2-01", "u2", "message.user", t0.Add(time.Hour), meta("topic", "contracts")),
		ev(lb, "s2", "s2-02", "u2", "message.user", t0.Add(time.Hour+30*s)),
		ev(lb, "s2", "s2-03", "u2", "action.llm_call", t0.Add(time.Hour+31*s),
			props("model", "claude-sonnet-4", "cost_usd", 0.01), cost(f64(0.01), "reported")),
		ev(lb, "s2", "s2-04", "u2", "outcome.artifact", t0.Add(time.Hour+40*s), props("kind", "pdf")),

		// s2a: starts at the same millisecond as s2; topic from the classifier.
		ev(lb, "s2a", "s2a-01", "u4", "message.user", t0.Add(time.Hour), classified("contracts")),

		// s3: a payment in a currency without a rate, a cache hit.
		ev(lb, "s3", "s3-01", "u1", "message.user", t0.Add(2*time.Hour), classified("billing")),
		ev(lb, "s3", "s3-02", "u1", "action.cache_hit", t0.Add(2*time.Hour+5*s), props("cache_name", "faq", "saved_cost_usd", 0.003)),
		ev(lb, "s3", "s3-03", "u1", "outcome.payment", t0.Add(2*time.Hour+10*s), props("amount", 58.0, "currency", "BRL")),

		// s4: the next day, one message.
		ev(lb, "s4", "s4-01", "u3", "message.user", t0.Add(24*time.Hour)),

		// s5: still open now.
		ev(lb, "s5", "s5-01", "u3", "message.user", now.Add(-2*time.Minute)),
		ev(lb, "s5", "s5-02", "u3", "action.llm_call", now.Add(-time.Minute),
			props("model", "gpt-4o-mini", "input_tokens", int64(100), "output_tokens", int64(10)), cost(f64(0.001), "computed")),

		// other-bot reuses the session id s1; o2 exists only there.
		ev(ob, "s1", "o1-01", "x1", "message.user", t0.Add(30*time.Minute), meta("topic", "refunds")),
		ev(ob, "s1", "o1-02", "x1", "message.user", t0.Add(31*time.Minute)),
		ev(ob, "s1", "o1-03", "x1", "outcome.payment", t0.Add(32*time.Minute), props("amount", 20.0, "currency", "USD"), amountUSD(20)),
		ev(ob, "o2", "o2-01", "x2", "message.user", t0.Add(40*time.Minute)),
	}
}

// insertDataset writes the events with the store the exporter uses, the
// first LLM call twice to show it counts once.
func insertDataset(t *testing.T, cfg *Config, events []event.Event) {
	t.Helper()
	st, err := chstore.Open(t.Context(), cfg.Storage, zap.NewNop())
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Insert(t.Context(), events))
	require.NoError(t, st.Insert(t.Context(), events[2:3]))
}

// refSession is a session summary computed here from the events, with the
// rules of the API contract, keyed as the contract names the fields.
type refSession struct {
	id, product string
	started     time.Time
	topic       string
	outcomes    []string
	converted   bool
	depth       int64
	revenue     float64
	cost        float64
	llmCost     float64
	toolCost    float64
	savings     float64
	unpriced    int64
	stage       int // index of the furthest stage reached
	currencies  map[string]float64
	json        map[string]any
}

func ms(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// summarize computes the summaries of one product's sessions.
func summarize(events []event.Event, product string, stages []analytics.Stage, now time.Time, timeout time.Duration) map[string]*refSession {
	bySession := map[string][]event.Event{}
	for _, e := range events {
		if e.ProductID == product {
			bySession[e.SessionID] = append(bySession[e.SessionID], e)
		}
	}
	out := map[string]*refSession{}
	for id, evs := range bySession {
		sort.Slice(evs, func(i, j int) bool {
			if !evs[i].Timestamp.Equal(evs[j].Timestamp) {
				return evs[i].Timestamp.Before(evs[j].Timestamp)
			}
			return evs[i].EventID < evs[j].EventID
		})
		r := &refSession{id: id, product: product, started: evs[0].Timestamp, currencies: map[string]float64{}}
		last := evs[len(evs)-1].Timestamp
		var llmCalls, toolCalls int64
		var endedAt *time.Time
		outcomes := map[string]bool{}
		metadata := map[string]any{}
		explicitTopic, classifiedTopic := "", ""
		for _, e := range evs {
			for k, v := range e.Metadata {
				metadata[k] = v
			}
			if t, ok := e.Metadata["topic"].(string); ok && t != "" {
				explicitTopic = t
			}
			if e.Topic != "" {
				classifiedTopic = e.Topic
			}
			if name, ok := event.IsOutcome(e.EventType); ok {
				outcomes[name] = true
			}
			switch e.EventType {
			case "message.user":
				r.depth++
			case "action.llm_call":
				llmCalls++
				if e.CostStatus == "unpriced" {
					r.unpriced++
				}
				if e.CostUSD != nil {
					r.llmCost += *e.CostUSD
				}
			case "action.tool_call":
				toolCalls++
				if e.CostUSD != nil {
					r.toolCost += *e.CostUSD
				}
			case "action.cache_hit":
				v, _ := event.Float(e.Properties, "saved_cost_usd")
				r.savings += v
			case "outcome.payment":
				amount, _ := event.Float(e.Properties, "amount")
				r.currencies[event.String(e.Properties, "currency")] += amount
				if e.AmountUSD != nil {
					r.revenue += *e.AmountUSD
				}
				if amount > 0 {
					r.converted = true
				}
			case "session.end":
				ts := e.Timestamp
				endedAt = &ts
				if event.String(e.Properties, "reason") == "converted" {
					r.converted = true
				}
			}
		}
		r.cost = r.llmCost + r.toolCost
		r.outcomes = append([]string{}, slices.Sorted(maps.Keys(outcomes))...)
		r.topic = "unclassified"
		if classifiedTopic != "" {
			r.topic = classifiedTopic
		}
		if explicitTopic != "" {
			r.topic = explicitTopic
		}
		status := "active"
		if endedAt == nil && now.Sub(last) > timeout {
			endedAt = &last
		}
		var ended any
		if endedAt != nil {
			status = "ended"
			ended = ms(*endedAt)
		}

		r.stage = -1
		for i, st := range stages {
			reached := false
			switch st.Name {
			case "reached":
				reached = true
			case "engaged":
				reached = r.depth >= 2
			case "artifact":
				reached = outcomes["artifact"]
			case "converted":
				reached = r.converted
			default:
				reached = outcomes[st.Name]
			}
			if reached {
				r.stage = i
			}
		}

		r.json = map[string]any{
			"session_id":         id,
			"user_id":            evs[0].UserID,
			"product_id":         product,
			"started_at":         ms(r.started),
			"last_event_at":      ms(last),
			"duration_ms":        last.Sub(r.started).Milliseconds(),
			"ended_at":           ended,
			"status":             status,
			"conversation_depth": r.depth,
			"llm_calls":          llmCalls,
			"tool_calls":         toolCalls,
			"unpriced_llm_calls": r.unpriced,
			"total_cost_usd":     r.cost,
			"revenue_usd":        r.revenue,
			"margin_usd":         r.revenue - r.cost,
			"cache_savings_usd":  r.savings,
			"outcomes":           r.outcomes,
			"converted":          r.converted,
			"funnel_stage":       "",
			"topic":              r.topic,
			"metadata":           metadata,
		}
		if r.stage >= 0 {
			r.json["funnel_stage"] = stages[r.stage].Name
		}
		out[id] = r
	}
	return out
}

// inPeriod lists the sessions that started in [from, to), newest first,
// ties by session id.
func inPeriod(sessions map[string]*refSession, from, to time.Time, keep func(*refSession) bool) []*refSession {
	var out []*refSession
	for _, s := range sessions {
		if !s.started.Before(from) && s.started.Before(to) && (keep == nil || keep(s)) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].started.Equal(out[j].started) {
			return out[i].started.After(out[j].started)
		}
		return strings.Compare(out[i].id, out[j].id) < 0
	})
	return out
}

// storedEvents is the contract's event list of a session: as ingested, in
// time order (ties by event_id), with cost_usd and cost_status on calls.
func storedEvents(events []event.Event, product, session string) []map[string]any {
	var sel []event.Event
	for _, e := range events {
		if e.ProductID == product && e.SessionID == session {
			sel = append(sel, e)
		}
	}
	sort.Slice(sel, func(i, j int) bool {
		if !sel[i].Timestamp.Equal(sel[j].Timestamp) {
			return sel[i].Timestamp.Before(sel[j].Timestamp)
		}
		return sel[i].EventID < sel[j].EventID
	})
	out := make([]map[string]any, 0, len(sel))
	for _, e := range sel {
		m := map[string]any{
			"event_id":   e.EventID,
			"session_id": e.SessionID,
			"event_type": e.EventType,
			"timestamp":  ms(e.Timestamp),
			"user_id":    e.UserID,
			"product_id": e.ProductID,
		}
		if len(e.Metadata) > 0 {
			m["metadata"] = e.Metadata
		}
		p := maps.Clone(e.Properties)
		if e.EventType == "action.llm_call" || e.EventType == "action.tool_call" {
			if p == nil {
				p = map[string]any{}
			}
			p["cost_status"] = e.CostStatus
			p["cost_usd"] = nil
			if e.CostUSD != nil {
				p["cost_usd"] = *e.CostUSD
			}
		}
		if len(p) > 0 {
			m["properties"] = p
		}
		out = append(out, m)
	}
	return out
}
