package chstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
)

// row is one line of the INSERT; its JSON keys are the columns of events.
type row struct {
	ProductID  string `json:"product_id"`
	SessionID  string `json:"session_id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	Timestamp  string `json:"timestamp"`
	UserID     string `json:"user_id"`
	Metadata   string `json:"metadata"`
	Properties string `json:"properties"`
	Truncated  bool   `json:"truncated"`

	Model                    string   `json:"model"`
	Provider                 string   `json:"provider"`
	InputTokens              int64    `json:"input_tokens"`
	OutputTokens             int64    `json:"output_tokens"`
	CachedInputTokens        int64    `json:"cached_input_tokens"`
	CacheCreationInputTokens int64    `json:"cache_creation_input_tokens"`
	ReasoningTokens          int64    `json:"reasoning_tokens"`
	DurationMS               float64  `json:"duration_ms"`
	CostUSD                  *float64 `json:"cost_usd"`
	CostStatus               string   `json:"cost_status"`
	ToolName                 string   `json:"tool_name"`
	SavedCostUSD             float64  `json:"saved_cost_usd"`
	Amount                   float64  `json:"amount"`
	Currency                 string   `json:"currency"`
	AmountUSD                *float64 `json:"amount_usd"`
	MetadataTopic            string   `json:"metadata_topic"`
	ClassifiedTopic          string   `json:"classified_topic"`
	EndReason                string   `json:"end_reason"`
	Outcome                  string   `json:"outcome"`
}

const insertColumns = "product_id, session_id, event_id, event_type, timestamp, user_id, metadata, properties, " +
	"truncated, model, provider, input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens, " +
	"reasoning_tokens, duration_ms, cost_usd, cost_status, tool_name, saved_cost_usd, amount, currency, " +
	"amount_usd, metadata_topic, classified_topic, end_reason, outcome"

// rowTimeLayout is how DateTime64(3) reads a time from JSON.
const rowTimeLayout = "2006-01-02 15:04:05.000"

// The range of DateTime64 without clamping.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2299, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Insert writes the events in one INSERT. Events that can never be stored
// (no event id, product, session or type, or a time outside 1900..2299) are
// left out and reported in a permanent error after the others are written.
// Writing an event id again is harmless: every answer counts it once.
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if s.closed.Load() {
		return errClosed
	}
	var buf bytes.Buffer
	buf.Grow(len(events) * 600)
	buf.WriteString("INSERT INTO ")
	buf.WriteString(string(s.db))
	buf.WriteString(".events (" + insertColumns + ") FORMAT JSONEachRow\n")

	var invalid []error
	n := 0
	for i := range events {
		r, err := toRow(&events[i])
		if err != nil {
			invalid = append(invalid, fmt.Errorf("event %d (event_id %q): %w", i, events[i].EventID, err))
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("event %d (event_id %q): %w", i, events[i].EventID, err))
			continue
		}
		buf.Write(b)
		buf.WriteByte('\n')
		n++
	}

	if n > 0 {
		start := time.Now()
		if err := s.exec(ctx, sqlText(buf.String())); err != nil {
			return fmt.Errorf("failed to insert %d events: %w", n, err)
		}
		s.logger.Debug("events inserted",
			zap.Int("events", n), zap.Int("bytes", buf.Len()), zap.Duration("duration", time.Since(start)))
	}
	if len(invalid) > 0 {
		return permanent(fmt.Errorf("%d of %d events cannot be stored: %w", len(invalid), len(events), errors.Join(invalid...)))
	}
	return nil
}

// toRow maps an event onto the columns, extracting the typed ones.
func toRow(e *event.Event) (*row, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"event_id", e.EventID}, {"product_id", e.ProductID}, {"session_id", e.SessionID}, {"event_type", e.EventType},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s must not be empty", strings.Join(missing, ", "))
	}
	ts := e.Timestamp.UTC()
	if ts.Before(minTime) || ts.After(maxTime) {
		return nil, fmt.Errorf("timestamp %s is outside the years 1900 to 2299", ts.Format(time.RFC3339))
	}

	props := e.Properties
	r := &row{
		ProductID:  e.ProductID,
		SessionID:  e.SessionID,
		EventID:    e.EventID,
		EventType:  e.EventType,
		Timestamp:  ts.Truncate(time.Millisecond).Format(rowTimeLayout),
		UserID:     e.UserID,
		Metadata:   encodeObject(e.Metadata),
		Properties: encodeObject(props),
		Truncated:  e.Truncated,

		ClassifiedTopic: e.Topic,
	}
	if t, ok := e.Metadata["topic"].(string); ok {
		r.MetadataTopic = t
	}
	if name, ok := event.IsOutcome(e.EventType); ok {
		r.Outcome = name
	}

	switch e.EventType {
	case event.TypeLLMCall:
		r.Model = event.String(props, "model")
		r.Provider = event.String(props, "provider")
		r.InputTokens = count(props, "input_tokens")
		r.OutputTokens = count(props, "output_tokens")
		r.CachedInputTokens = count(props, "cached_input_tokens")
		r.CacheCreationInputTokens = count(props, "cache_creation_input_tokens")
		r.ReasoningTokens = count(props, "reasoning_tokens")
		r.DurationMS = number(props, "duration_ms")
		r.CostUSD, r.CostStatus = callCost(e)
	case event.TypeToolCall:
		r.ToolName = event.String(props, "tool_name")
		r.DurationMS = number(props, "duration_ms")
		r.CostUSD, r.CostStatus = callCost(e)
	case event.TypeCacheHit:
		r.SavedCostUSD = number(props, "saved_cost_usd")
	case event.TypeOutcomePayment:
		r.Amount = number(props, "amount")
		r.Currency = strings.ToUpper(strings.TrimSpace(event.String(props, "currency")))
		if r.Currency == "" {
			r.Currency = "USD"
		}
		r.AmountUSD = finite(e.AmountUSD)
		if r.AmountUSD == nil && r.Currency == "USD" {
			// US dollars need no rate, even without the processor.
			r.AmountUSD = &r.Amount
		}
	case event.TypeSessionEnd:
		r.EndReason = event.String(props, "reason")
	}
	return r, nil
}

// callCost is the cost the processor filled in. Without it, a cost_usd
// property counts as reported and a call without any cost as unpriced.
func callCost(e *event.Event) (*float64, string) {
	cost, status := finite(e.CostUSD), e.CostStatus
	if cost == nil && status == "" {
		if v, ok := event.Float(e.Properties, "cost_usd"); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			cost = &v
		}
	}
	if status == "" {
		status = event.CostUnpriced
		if cost != nil {
			status = event.CostReported
		}
	}
	return cost, status
}

func finite(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	v := *p
	return &v
}

// number reads a numeric property (or a numeric string); anything else,
// nan and inf included, is 0.
func number(props map[string]any, key string) float64 {
	v, ok := event.Float(props, key)
	if !ok {
		s, isStr := props[key].(string)
		if !isStr {
			return 0
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0
		}
		v = f
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// count reads a token count: an integer, a whole float or a numeric string.
func count(props map[string]any, key string) int64 {
	if n, ok := event.Int(props, key); ok {
		return n
	}
	f := number(props, key)
	if f != math.Trunc(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0
	}
	return int64(f)
}

// encodeObject writes a map as a JSON object; values JSON cannot hold (nan,
// inf) become null rather than failing the event.
func encodeObject(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		b, err = json.Marshal(sanitize(m))
		if err != nil {
			return "{}"
		}
	}
	return string(b)
}

func sanitize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		return sanitize(float64(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = sanitize(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = sanitize(val)
		}
		return out
	}
	return v
}
