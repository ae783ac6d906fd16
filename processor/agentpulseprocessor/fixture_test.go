package agentpulseprocessor

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
)

// loadFixture reads an SDK batch (testdata/legal-bot-day-01.json is a copy
// of a shared fixture) into events, numbers as int64 or float64.
func loadFixture(t *testing.T, name string) []*event.Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var body struct {
		Events []struct {
			EventID    string         `json:"event_id"`
			SessionID  string         `json:"session_id"`
			EventType  string         `json:"event_type"`
			Timestamp  time.Time      `json:"timestamp"`
			UserID     string         `json:"user_id"`
			ProductID  string         `json:"product_id"`
			Metadata   map[string]any `json:"metadata"`
			Properties map[string]any `json:"properties"`
		} `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&body))

	out := make([]*event.Event, 0, len(body.Events))
	for _, e := range body.Events {
		out = append(out, &event.Event{
			EventID: e.EventID, SessionID: e.SessionID, EventType: e.EventType, Timestamp: e.Timestamp.UTC(),
			UserID: e.UserID, ProductID: e.ProductID, Metadata: numbers(e.Metadata), Properties: numbers(e.Properties),
		})
	}

	return out
}

func numbers(m map[string]any) map[string]any {
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m[k] = i
			} else {
				m[k], _ = n.Float64()
			}
		}
	}

	return m
}

// inOrderSessions groups the events as a reader would by hand: each user's
// events in time order, a new session after a gap over the timeout or
// after a session.end. It returns, per event id, the first event id of its
// session.
func inOrderSessions(events []*event.Event, timeout time.Duration) map[string]string {
	byUser := map[string][]*event.Event{}
	for _, e := range events {
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	out := map[string]string{}
	for _, evs := range byUser {
		slices.SortFunc(evs, func(a, b *event.Event) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			// At the same instant a session.end comes last.
			return compareBool(a.EventType == event.TypeSessionEnd, b.EventType == event.TypeSessionEnd)
		})
		var start *event.Event
		for i, e := range evs {
			if i == 0 || evs[i-1].EventType == event.TypeSessionEnd || e.Timestamp.Sub(evs[i-1].Timestamp) > timeout {
				start = e
			}
			out[e.EventID] = start.EventID
		}
	}

	return out
}

func TestFixtureDay(t *testing.T) {
	orig := loadFixture(t, "legal-bot-day-01.json")
	require.NotEmpty(t, orig)
	expected := inOrderSessions(orig, 30*time.Minute)

	// Strip the SDK's session ids; send the day in four batches by time,
	// each shuffled, once forwards and once latest batch first.
	for _, reverse := range []bool{false, true} {
		name := map[bool]string{false: "forwards", true: "latest batch first"}[reverse]
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.ExchangeRates = map[string]float64{"BRL": 0.18}
			h := newHarness(t, cfg)

			events := loadFixture(t, "legal-bot-day-01.json")
			for _, e := range events {
				e.SessionID = ""
			}
			slices.SortStableFunc(events, func(a, b *event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
			var batches [][]*event.Event
			for chunk := range slices.Chunk(events, (len(events)+3)/4) {
				batch := slices.Clone(chunk)
				rand.New(rand.NewPCG(uint64(len(batches)), 7)).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				batches = append(batches, batch)
			}
			if reverse {
				slices.Reverse(batches)
			}
			for _, b := range batches {
				require.NoError(t, h.proc.ConsumeLogs(t.Context(), encode(b...)))
			}

			got := h.output()
			require.Len(t, got, len(orig))
			// Same grouping as by hand: the session of an event is the one
			// of the first event of its group.
			for id, first := range expected {
				assert.Equal(t, got[first].SessionID, got[id].SessionID, id)
				assert.NotEmpty(t, got[id].SessionID, id)
			}
			// Different groups have different ids.
			groups := map[string]string{}
			for id, first := range expected {
				if prev, ok := groups[got[id].SessionID]; ok {
					assert.Equal(t, prev, first, "session %s spans two groups", got[id].SessionID)
				}
				groups[got[id].SessionID] = first
			}
			starts := map[string]bool{}
			for _, first := range expected {
				starts[first] = true
			}
			assert.Len(t, groups, len(starts))

			// Money, from the events themselves and the built-in rates.
			tbl := pricing.Default()
			var wantCost, gotCost, wantRevenue, gotRevenue float64
			var wantUnpriced, gotUnpriced int
			for _, e := range orig {
				out := got[e.EventID]
				switch e.EventType {
				case event.TypeLLMCall:
					gotCost += *out.CostUSD
					if out.CostStatus == event.CostUnpriced {
						gotUnpriced++
					}
					if c, ok := e.Properties["cost_usd"].(float64); ok {
						wantCost += c
						assert.Equal(t, event.CostReported, out.CostStatus)
						continue
					}
					p, ok := tbl.Lookup(e.Properties["model"].(string))
					in, hasIn := e.Properties["input_tokens"].(int64)
					outTok, hasOut := e.Properties["output_tokens"].(int64)
					if !ok || (!hasIn && !hasOut) {
						wantUnpriced++
						continue
					}
					cached, _ := e.Properties["cached_input_tokens"].(int64)
					written, _ := e.Properties["cache_creation_input_tokens"].(int64)
					wantCost += (float64(in-cached-written)*p.Input + float64(cached)*p.CachedInput +
						float64(written)*p.CacheWrite + float64(outTok)*p.Output) / 1e6
				case event.TypeToolCall:
					gotCost += *out.CostUSD
					if c, ok := e.Properties["cost_usd"].(float64); ok {
						wantCost += c
					}
				case event.TypeOutcomePayment:
					require.Equal(t, "BRL", e.Properties["currency"])
					wantRevenue += e.Properties["amount"].(float64) * 0.18
					gotRevenue += *out.AmountUSD
				case event.TypeMessageUser, event.TypeMessageAgent:
					assert.Equal(t, e.Properties["content_length"], out.Properties["content_length"])
				}
			}
			assert.InDelta(t, wantCost, gotCost, 1e-9)
			assert.Equal(t, wantUnpriced, gotUnpriced)
			assert.InDelta(t, wantRevenue, gotRevenue, 1e-9)
			assert.Positive(t, wantRevenue)
		})
	}
}

func TestFixtureClientSessionsKept(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	events := loadFixture(t, "legal-bot-day-01.json")
	want := map[string]string{}
	for _, e := range events {
		want[e.EventID] = e.SessionID
	}
	require.NoError(t, h.proc.ConsumeLogs(t.Context(), encode(events...)))
	for id, e := range h.output() {
		assert.Equal(t, want[id], e.SessionID, id)
	}
	assert.Zero(t, counterValue(t, h.tel, metricOpenSessions), "client sessions hold no state")
}
