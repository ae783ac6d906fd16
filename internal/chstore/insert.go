package chstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
)

// row is one event mapped onto the columns of events; its JSON keys are
// the column names (the JSONEachRow encoding of server inserts).
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

	// The time in Unix milliseconds and the maps as ingested, for the
	// Native encoding; the JSON encoding fills Timestamp, Metadata and
	// Properties from them.
	TimestampMS int64          `json:"-"`
	IngestedMS  int64          `json:"-"`
	IngestedAt  string         `json:"ingested_at"`
	metadata    map[string]any `json:"-"`
	properties  map[string]any `json:"-"`
}

const insertColumns = "product_id, session_id, event_id, event_type, timestamp, user_id, metadata, properties, " +
	"truncated, model, provider, input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens, " +
	"reasoning_tokens, duration_ms, cost_usd, cost_status, tool_name, saved_cost_usd, amount, currency, " +
	"amount_usd, metadata_topic, classified_topic, end_reason, outcome, ingested_at"

// rowTimeLayout is how DateTime64(3) reads a time from JSON.
const rowTimeLayout = "2006-01-02 15:04:05.000"

// The range of DateTime64 without clamping.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2299, 12, 31, 23, 59, 59, 0, time.UTC)
)

// insertDirName is the directory, inside the embedded engine's data
// directory, of the Native blocks being inserted.
const insertDirName = "agentpulse-inserts"

// Insert writes the events in one INSERT. Events that can never be stored
// (no event id, product, session or type, or a time outside 1900..2299) are
// left out and reported in a permanent error after the others are written.
// Writing an event id again is harmless: every answer counts it once.
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if s.closed.Load() {
		return errClosed
	}
	id, ingested := s.shared.inflight.begin()
	defer s.shared.inflight.end(id)
	p, invalid := s.prepareInsert(events, "", ingested)
	if p.Events > 0 {
		start := time.Now()
		err := s.exec(ctx, sqlText(p.Statement))
		if p.File != "" {
			s.shared.files.put(p.File)
		}
		if err != nil {
			return fmt.Errorf("failed to insert %d events: %w", p.Events, err)
		}
		s.logger.Debug("events inserted",
			zap.Int("events", p.Events), zap.Int("bytes", p.Bytes), zap.Duration("duration", time.Since(start)))
	}
	return invalid
}

// PreparedInsert is what Insert runs for a batch: the statement and, on the
// embedded engine, the file of rows in Native format that it reads.
type PreparedInsert struct {
	Statement string
	File      string // empty when the statement holds the rows
	Events    int    // rows written; 0 means there is nothing to run
	Bytes     int    // size of the rows as sent
}

// PrepareInsert builds the INSERT of events without running it. On the
// embedded engine the rows go to a Native-format file: a new one in dir,
// which the caller removes after running the statement, or, when dir is
// empty, one of the store's own (Insert's case). On a server the rows are
// JSONEachRow in the statement.
// invalid is the permanent error for the events left out, as Insert
// reports it. The benchmarks use it to time the engine alone on the same
// statements.
func (s *Store) PrepareInsert(events []event.Event, dir string) (p PreparedInsert, invalid error) {
	return s.prepareInsert(events, dir, time.Now().UnixMilli())
}

// prepareInsert builds the INSERT with every row stamped ingested at
// ingestedMS (Unix milliseconds).
func (s *Store) prepareInsert(events []event.Event, dir string, ingestedMS int64) (p PreparedInsert, invalid error) {
	prefix := "INSERT INTO " + string(s.db) + ".events (" + insertColumns + ")"
	var errs []error
	var r row
	each := func(add func(r *row)) {
		for i := range events {
			if err := toRow(&events[i], &r); err != nil {
				errs = append(errs, fmt.Errorf("event %d (event_id %q): %w", i, events[i].EventID, err))
				continue
			}
			r.IngestedMS = ingestedMS
			add(&r)
			p.Events++
		}
		if len(errs) > 0 {
			invalid = permanent(fmt.Errorf("%d of %d events cannot be stored: %w", len(errs), len(events), errors.Join(errs...)))
		}
	}

	if s.shared.path == "" {
		rows := newJSONInsert(prefix, len(events))
		each(rows.add)
		if p.Events > 0 {
			p.Statement = rows.String()
			p.Bytes = len(p.Statement)
		}
		return p, invalid
	}

	block := getNativeBlock()
	defer putNativeBlock(block)
	each(block.add)
	if p.Events == 0 {
		return p, invalid
	}
	var file string
	var err error
	if dir == "" {
		file = s.shared.files.get()
	} else if f, cerr := os.CreateTemp(dir, "insert-*.native"); cerr != nil {
		err = cerr
	} else {
		file = f.Name()
		_ = f.Close()
	}
	size := 0
	if err == nil {
		size, err = block.writeFile(file)
	}
	if err != nil {
		if dir == "" {
			s.shared.files.put(file)
		}
		// The rows can still go in the statement, more slowly.
		rows := newJSONInsert(prefix, len(events))
		p.Events, errs = 0, nil
		each(rows.add)
		p.Statement = rows.String()
		p.Bytes = len(p.Statement)
		return p, invalid
	}
	p.File, p.Bytes = file, size
	p.Statement = prefix + " FROM INFILE " + string(quoteString(file)) + " FORMAT Native"
	return p, invalid
}

// jsonInsert builds an INSERT with the rows as JSONEachRow.
type jsonInsert struct {
	buf     bytes.Buffer
	scratch []byte
}

func newJSONInsert(prefix string, n int) *jsonInsert {
	j := &jsonInsert{scratch: make([]byte, 0, 1024)}
	j.buf.Grow(len(prefix) + n*600)
	j.buf.WriteString(prefix)
	j.buf.WriteString(" FORMAT JSONEachRow\n")
	return j
}

func (j *jsonInsert) add(r *row) {
	r.Timestamp = time.UnixMilli(r.TimestampMS).UTC().Format(rowTimeLayout)
	r.IngestedAt = time.UnixMilli(r.IngestedMS).UTC().Format(rowTimeLayout)
	j.scratch = appendJSONObject(j.scratch[:0], r.metadata)
	r.Metadata = string(j.scratch)
	j.scratch = appendJSONObject(j.scratch[:0], r.properties)
	r.Properties = string(j.scratch)
	// A row holds only strings, numbers and bools: it always encodes.
	b, _ := json.Marshal(r)
	j.buf.Write(b)
	j.buf.WriteByte('\n')
}

func (j *jsonInsert) String() string { return j.buf.String() }

// toRow maps an event onto the columns, extracting the typed ones.
func toRow(e *event.Event, r *row) error {
	var missing []string
	for _, f := range [...]struct{ name, value string }{
		{"event_id", e.EventID}, {"product_id", e.ProductID}, {"session_id", e.SessionID}, {"event_type", e.EventType},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s must not be empty", strings.Join(missing, ", "))
	}
	ts := e.Timestamp.UTC()
	if ts.Before(minTime) || ts.After(maxTime) {
		return fmt.Errorf("timestamp %s is outside the years 1900 to 2299", ts.Format(time.RFC3339))
	}

	props := e.Properties
	*r = row{
		ProductID:   e.ProductID,
		SessionID:   e.SessionID,
		EventID:     e.EventID,
		EventType:   e.EventType,
		TimestampMS: ts.UnixMilli(),
		UserID:      e.UserID,
		metadata:    e.Metadata,
		properties:  props,
		Truncated:   e.Truncated,

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
			amount := r.Amount
			r.AmountUSD = &amount
		}
	case event.TypeSessionEnd:
		r.EndReason = event.String(props, "reason")
	}
	return nil
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
