package e2e

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// ev is an event as sent, with the session the test expects it in.
type ev struct {
	EventID    string         `json:"event_id"`
	SessionID  string         `json:"session_id,omitempty"`
	EventType  string         `json:"event_type"`
	Timestamp  string         `json:"timestamp"`
	UserID     string         `json:"user_id"`
	ProductID  string         `json:"product_id,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`

	session string // the expected session: SessionID, or a name the test gives
}

func (e ev) time() time.Time {
	ts, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil {
		panic(err)
	}
	return ts.UTC()
}

func (e ev) num(key string) (float64, bool) {
	v, ok := e.Properties[key].(float64)
	return v, ok
}

func loadBatch(t *testing.T, name string) []ev {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var b struct{ Events []ev }
	require.NoError(t, json.Unmarshal(raw, &b))
	for i := range b.Events {
		b.Events[i].session = b.Events[i].SessionID
	}
	return b.Events
}

func body(t *testing.T, events []ev) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"events": events})
	require.NoError(t, err)
	return b
}

// rate is a model's price per million tokens, read from the price table.
type rate struct{ Input, CachedInput, CacheWrite, Output float64 }

func priceTable(t *testing.T) map[string]rate {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "pricing", "prices.json"))
	require.NoError(t, err)
	var f struct {
		Models []struct {
			Model       string  `json:"model"`
			Input       float64 `json:"input"`
			CachedInput float64 `json:"cached_input"`
			CacheWrite  float64 `json:"cache_write"`
			Output      float64 `json:"output"`
		} `json:"models"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	out := map[string]rate{}
	for _, m := range f.Models {
		out[m.Model] = rate{m.Input, m.CachedInput, m.CacheWrite, m.Output}
	}
	return out
}

// exchangeRates reads the quick-start configuration's table.
func exchangeRates(t *testing.T) map[string]float64 {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join(repoRoot(t), "config", "quickstart.yaml"))
	require.NoError(t, err)
	out := map[string]float64{"USD": 1}
	raw, _ := cm.Get("processors::agentpulse::exchange_rates").(map[string]any)
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			out[k] = x
		case int:
			out[k] = float64(x)
		}
	}
	require.Contains(t, out, "BRL", "the quick start must convert the fixtures' BRL")
	return out
}

// tableName maps the models the test sends to price-table entries, by hand:
// the test states what the normalization must find.
var tableName = map[string]string{
	"gpt-4o":                    "gpt-4o",
	"gpt-4o-mini":               "gpt-4o-mini",
	"gemini-2.5-flash":          "gemini-2.5-flash",
	"claude-sonnet-4-20250514":  "claude-sonnet-4",
	"openai/gpt-4.1-2025-04-14": "gpt-4.1",
}

type summary struct {
	id, user, topic                           string
	started, last                             time.Time
	ended                                     *time.Time
	depth, llm, tools, unpriced               int
	cost, llmCost, toolCost, revenue, savings float64
	outcomes                                  []string
	converted                                 bool
	stage                                     string
	metadata                                  map[string]any
	events                                    []ev
	byCurrency                                map[string]float64
}

// model computes what the API must answer for events, by the rules of the
// contract, independently of the product's code.
type model struct {
	sessions map[string]*summary
	prices   map[string]rate
	fx       map[string]float64
	timeout  time.Duration
	now      time.Time
}

// cost is the cost an LLM or tool call must get, and whether it is priced.
func (m *model) cost(e ev) (float64, string) {
	if c, ok := e.num("cost_usd"); ok {
		return c, "reported"
	}
	if e.EventType != "action.llm_call" {
		return 0, "unpriced"
	}
	model, _ := e.Properties["model"].(string)
	r, ok := m.prices[tableName[model]]
	in, hasIn := e.num("input_tokens")
	out, hasOut := e.num("output_tokens")
	if !ok || (!hasIn && !hasOut) {
		return 0, "unpriced"
	}
	cached, _ := e.num("cached_input_tokens")
	write, _ := e.num("cache_creation_input_tokens")
	cachedRate, writeRate := r.CachedInput, r.CacheWrite
	if cachedRate == 0 {
		cachedRate = r.Input
	}
	if writeRate == 0 {
		writeRate = r.Input
	}
	return ((in-cached-write)*r.Input + cached*cachedRate + write*writeRate + out*r.Output) / 1e6, "computed"
}

func newModel(t *testing.T, events []ev, now time.Time) *model {
	m := &model{sessions: map[string]*summary{}, prices: priceTable(t), fx: exchangeRates(t), timeout: 30 * time.Minute, now: now}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.EventID] {
			continue // the same event_id counts once
		}
		seen[e.EventID] = true
		s := m.sessions[e.session]
		if s == nil {
			s = &summary{id: e.session, user: e.UserID, metadata: map[string]any{}, byCurrency: map[string]float64{}}
			m.sessions[e.session] = s
		}
		s.events = append(s.events, e)
	}
	for _, s := range m.sessions {
		m.summarize(s)
	}
	return m
}

func (m *model) summarize(s *summary) {
	sort.SliceStable(s.events, func(i, j int) bool {
		a, b := s.events[i], s.events[j]
		if !a.time().Equal(b.time()) {
			return a.time().Before(b.time())
		}
		return a.EventID < b.EventID
	})
	s.started, s.last = s.events[0].time(), s.events[len(s.events)-1].time()
	explicitTopic := ""
	hasArtifact := false
	for _, e := range s.events {
		for k, v := range e.Metadata {
			s.metadata[k] = v
			if k == "topic" {
				explicitTopic = v.(string)
			}
		}
		switch e.EventType {
		case "message.user":
			s.depth++
		case "action.llm_call", "action.tool_call":
			c, status := m.cost(e)
			s.cost += c
			if e.EventType == "action.llm_call" {
				s.llm++
				s.llmCost += c
				if status == "unpriced" {
					s.unpriced++
				}
			} else {
				s.tools++
				s.toolCost += c
			}
		case "action.cache_hit":
			v, _ := e.num("saved_cost_usd")
			s.savings += v
		case "outcome.payment":
			amount, _ := e.num("amount")
			cur, _ := e.Properties["currency"].(string)
			if cur == "" {
				cur = "USD"
			}
			cur = strings.ToUpper(cur)
			s.byCurrency[cur] += amount
			if r, ok := m.fx[cur]; ok {
				s.revenue += amount * r
			}
			if amount > 0 {
				s.converted = true
			}
		case "session.end":
			ts := e.time()
			s.ended = &ts
			if e.Properties["reason"] == "converted" {
				s.converted = true
			}
		}
		if name, ok := strings.CutPrefix(e.EventType, "outcome."); ok && !slices.Contains(s.outcomes, name) {
			s.outcomes = append(s.outcomes, name)
			hasArtifact = hasArtifact || name == "artifact"
		}
	}
	sort.Strings(s.outcomes)
	if s.outcomes == nil {
		s.outcomes = []string{}
	}
	if s.ended == nil && m.now.Sub(s.last) > m.timeout {
		last := s.last
		s.ended = &last
	}
	s.topic = explicitTopic
	if s.topic == "" {
		s.topic = "unclassified"
	}
	s.stage = "reached"
	for _, st := range []struct {
		name string
		ok   bool
	}{{"engaged", s.depth >= 2}, {"artifact", hasArtifact}, {"converted", s.converted}} {
		if st.ok {
			s.stage = st.name
		}
	}
}

// ordered is the sessions as /v1/sessions lists them.
func (m *model) ordered() []*summary {
	out := make([]*summary, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].started.Equal(out[j].started) {
			return out[i].started.After(out[j].started)
		}
		return out[i].id < out[j].id
	})
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
