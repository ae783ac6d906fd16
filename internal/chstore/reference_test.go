package chstore

import (
	"sort"
	"strings"
	"time"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

// This file computes the expected answers in plain Go, straight from the
// contract, so that the SQL is checked against an independent reading of
// the same rules. Test events always carry their cost status.

// refDedup keeps the last written copy of each (product, event_id), as the
// store does.
func refDedup(batches ...[]event.Event) []event.Event {
	type key struct{ product, id string }
	pos := map[key]int{}
	var out []event.Event
	for _, batch := range batches {
		for _, e := range batch {
			k := key{e.ProductID, e.EventID}
			if i, ok := pos[k]; ok {
				out[i] = e
				continue
			}
			pos[k] = len(out)
			out = append(out, e)
		}
	}
	return out
}

// refBefore orders events by time, then event id.
func refBefore(a, b event.Event) bool {
	ta, tb := a.Timestamp.Truncate(time.Millisecond), b.Timestamp.Truncate(time.Millisecond)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.EventID < b.EventID
}

type refSession struct {
	summary   analytics.SessionSummary
	llmCost   float64
	toolCost  float64
	payments  map[string]float64
	eventList []event.Event
}

func refAmountUSD(e event.Event) float64 {
	if e.AmountUSD != nil {
		return *e.AmountUSD
	}
	cur := strings.ToUpper(event.String(e.Properties, "currency"))
	if cur == "" || cur == "USD" {
		amt, _ := event.Float(e.Properties, "amount")
		return amt
	}
	return 0
}

// refSessions summarizes the sessions of a product.
func refSessions(events []event.Event, productID string, opts analytics.Options) map[string]*refSession {
	opts = normalizeOptions(opts)
	bySession := map[string][]event.Event{}
	for _, e := range events {
		if e.ProductID == productID {
			bySession[e.SessionID] = append(bySession[e.SessionID], e)
		}
	}
	out := map[string]*refSession{}
	for id, evs := range bySession {
		sort.Slice(evs, func(i, j int) bool { return refBefore(evs[i], evs[j]) })
		r := &refSession{payments: map[string]float64{}, eventList: evs}
		s := &r.summary
		s.SessionID, s.ProductID, s.UserID = id, productID, evs[0].UserID
		first, last := evs[0].Timestamp.Truncate(time.Millisecond), evs[len(evs)-1].Timestamp.Truncate(time.Millisecond)
		s.StartedAt, s.LastEventAt = analytics.Time{Time: first}, analytics.Time{Time: last}
		s.DurationMS = last.Sub(first).Milliseconds()
		s.Metadata = map[string]any{}

		var endAt *time.Time
		outcomes := map[string]bool{}
		explicit, classified := "", ""
		for _, e := range evs {
			ts := e.Timestamp.Truncate(time.Millisecond)
			for k, v := range e.Metadata {
				s.Metadata[k] = v
			}
			if t, ok := e.Metadata["topic"].(string); ok && t != "" {
				explicit = t
			}
			if e.Topic != "" {
				classified = e.Topic
			}
			if name, ok := event.IsOutcome(e.EventType); ok {
				outcomes[name] = true
			}
			switch e.EventType {
			case event.TypeMessageUser:
				s.ConversationDepth++
			case event.TypeLLMCall:
				s.LLMCalls++
				if e.CostStatus == event.CostUnpriced {
					s.UnpricedLLMCalls++
				}
				if e.CostUSD != nil {
					r.llmCost += *e.CostUSD
				}
			case event.TypeToolCall:
				s.ToolCalls++
				if e.CostUSD != nil {
					r.toolCost += *e.CostUSD
				}
			case event.TypeCacheHit:
				v, _ := event.Float(e.Properties, "saved_cost_usd")
				s.CacheSavingsUSD += v
			case event.TypeOutcomePayment:
				amt, _ := event.Float(e.Properties, "amount")
				cur := strings.ToUpper(event.String(e.Properties, "currency"))
				if cur == "" {
					cur = "USD"
				}
				r.payments[cur] += amt
				s.RevenueUSD += refAmountUSD(e)
				if amt > 0 {
					s.Converted = true
				}
			case event.TypeSessionEnd:
				t := ts
				endAt = &t
				if event.String(e.Properties, "reason") == "converted" {
					s.Converted = true
				}
			}
		}
		s.TotalCostUSD = r.llmCost + r.toolCost
		s.MarginUSD = s.RevenueUSD - s.TotalCostUSD
		s.Outcomes = []string{}
		for o := range outcomes {
			s.Outcomes = append(s.Outcomes, o)
		}
		sort.Strings(s.Outcomes)
		switch {
		case explicit != "":
			s.Topic = explicit
		case classified != "":
			s.Topic = classified
		default:
			s.Topic = "unclassified"
		}

		timedOut := opts.Now.Sub(last) > opts.SessionTimeout
		switch {
		case endAt != nil:
			s.Status = "ended"
			s.EndedAt = &analytics.Time{Time: *endAt}
		case timedOut:
			s.Status = "ended"
			s.EndedAt = &analytics.Time{Time: last}
		default:
			s.Status = "active"
		}

		for i := len(opts.Stages) - 1; i >= 0; i-- {
			if refReaches(r, opts.Stages[i]) {
				s.FunnelStage = opts.Stages[i].Name
				break
			}
		}
		out[id] = r
	}
	return out
}

func refReaches(r *refSession, st analytics.Stage) bool {
	s := &r.summary
	hasOutcome := func(name string) bool {
		for _, o := range s.Outcomes {
			if o == name {
				return true
			}
		}
		return false
	}
	ruled := st.Outcome != "" || st.EventType != "" || st.MinConversationDepth > 0 || st.Converted
	if !ruled {
		switch st.Name {
		case "reached":
			return true
		case "engaged":
			return s.ConversationDepth >= 2
		case "artifact":
			return hasOutcome("artifact")
		case "converted":
			return s.Converted
		}
		return hasOutcome(st.Name)
	}
	ok := true
	if st.Outcome != "" {
		ok = ok && hasOutcome(st.Outcome)
	}
	if st.EventType != "" {
		seen := false
		for _, e := range r.eventList {
			seen = seen || e.EventType == st.EventType
		}
		ok = ok && seen
	}
	if st.MinConversationDepth > 0 {
		ok = ok && s.ConversationDepth >= int64(st.MinConversationDepth)
	}
	if st.Converted {
		ok = ok && s.Converted
	}
	return ok
}

// refSelect applies a filter and orders the sessions as the list does.
func refSelect(all map[string]*refSession, f analytics.Filter) []*refSession {
	var out []*refSession
	for _, r := range all {
		s := r.summary
		if !f.From.IsZero() && s.StartedAt.Before(f.From) {
			continue
		}
		if !f.To.IsZero() && !s.StartedAt.Before(f.To) {
			continue
		}
		if f.Topic != "" && s.Topic != f.Topic {
			continue
		}
		if f.UserID != "" && s.UserID != f.UserID {
			continue
		}
		if f.Outcome != "" {
			found := false
			for _, o := range s.Outcomes {
				found = found || o == f.Outcome
			}
			if !found {
				continue
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].summary, out[j].summary
		if !a.StartedAt.Equal(b.StartedAt.Time) {
			return a.StartedAt.After(b.StartedAt.Time)
		}
		return a.SessionID < b.SessionID
	})
	return out
}

func refFunnel(sel []*refSession, stages []analytics.Stage) []analytics.StageCount {
	out := make([]analytics.StageCount, len(stages))
	for i, st := range stages {
		out[i].Name = st.Name
	}
	for _, r := range sel {
		furthest := -1
		for i, st := range stages {
			if st.Name == r.summary.FunnelStage {
				furthest = i
			}
		}
		for i := 0; i <= furthest; i++ {
			out[i].Sessions++
		}
	}
	for i := range out {
		if out[0].Sessions > 0 {
			out[i].ConversionFromStart = float64(out[i].Sessions) / float64(out[0].Sessions)
		}
		prev := out[0].Sessions
		if i > 0 {
			prev = out[i-1].Sessions
		}
		if prev > 0 {
			out[i].ConversionFromPrevious = float64(out[i].Sessions) / float64(prev)
		}
	}
	return out
}

func refEconomics(sel []*refSession) analytics.Economics {
	e := analytics.Economics{RevenueByCurrency: map[string]float64{}}
	for _, r := range sel {
		s := r.summary
		e.Sessions++
		if s.Converted {
			e.ConvertedSessions++
		}
		e.TotalRevenueUSD += s.RevenueUSD
		e.TotalCostUSD += s.TotalCostUSD
		e.LLMCostUSD += r.llmCost
		e.ToolCostUSD += r.toolCost
		e.CacheSavingsUSD += s.CacheSavingsUSD
		e.UnpricedLLMCalls += s.UnpricedLLMCalls
		for c, a := range r.payments {
			e.RevenueByCurrency[c] += a
		}
	}
	e.GrossMarginUSD = e.TotalRevenueUSD - e.TotalCostUSD
	if e.TotalRevenueUSD != 0 {
		pct := e.GrossMarginUSD / e.TotalRevenueUSD
		e.GrossMarginPct = &pct
	}
	if e.Sessions > 0 {
		n := float64(e.Sessions)
		e.AvgRevenuePerSess = e.TotalRevenueUSD / n
		e.AvgCostPerSession = e.TotalCostUSD / n
		e.AvgMarginPerSession = e.GrossMarginUSD / n
	}
	if e.ConvertedSessions > 0 {
		cpc := e.TotalCostUSD / float64(e.ConvertedSessions)
		e.CostPerConversion = &cpc
	}
	return e
}

func refTopics(sel []*refSession, limit int) []analytics.TopicRow {
	byTopic := map[string]*analytics.TopicRow{}
	depth := map[string]int64{}
	for _, r := range sel {
		s := r.summary
		t := byTopic[s.Topic]
		if t == nil {
			t = &analytics.TopicRow{Topic: s.Topic}
			byTopic[s.Topic] = t
		}
		t.Sessions++
		if s.Converted {
			t.ConvertedSessions++
		}
		t.RevenueUSD += s.RevenueUSD
		t.TotalCostUSD += s.TotalCostUSD
		depth[s.Topic] += s.ConversationDepth
	}
	out := []analytics.TopicRow{}
	for topic, t := range byTopic {
		t.MarginUSD = t.RevenueUSD - t.TotalCostUSD
		t.ConversionRate = float64(t.ConvertedSessions) / float64(t.Sessions)
		t.AvgConversationDepth = float64(depth[topic]) / float64(t.Sessions)
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sessions != out[j].Sessions {
			return out[i].Sessions > out[j].Sessions
		}
		return out[i].Topic < out[j].Topic
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
