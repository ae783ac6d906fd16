package event

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Bounds that every stored event keeps, whatever way it came in: beyond
// them a sum over a product could overflow or lose precision, or the store
// could not hold the time.
const (
	// MaxIDBytes bounds ids, which are never truncated.
	MaxIDBytes = 1024
	// MaxTokens bounds each token count.
	MaxTokens = 1 << 40
	// MaxAmount bounds money values (USD or a payment's currency).
	MaxAmount = 1e12
)

// Timestamps must fall in [MinTime, MaxTime), the years the store holds.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TokenKeys are the token-count properties.
var TokenKeys = []string{"input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens"}

// Check reports why a decoded event cannot be stored as it is: ids, a time
// outside the store's years or further than maxFutureSkew ahead of now, and
// token counts and money values outside the bounds. It is the last check of
// events that did not come through the JSON ingest API's own validation.
func (e *Event) Check(now time.Time, maxFutureSkew time.Duration) error {
	var errs []string
	for name, v := range map[string]string{"event_id": e.EventID, "user_id": e.UserID, "event_type": e.EventType, "product_id": e.ProductID} {
		if v == "" {
			errs = append(errs, name+" is empty")
		}
	}
	for name, v := range map[string]string{"event_id": e.EventID, "session_id": e.SessionID, "user_id": e.UserID} {
		if len(v) > MaxIDBytes {
			errs = append(errs, fmt.Sprintf("%s is longer than %d bytes", name, MaxIDBytes))
		}
	}
	switch {
	case e.Timestamp.Before(MinTime) || !e.Timestamp.Before(MaxTime):
		errs = append(errs, fmt.Sprintf("timestamp %s is outside the years 1900 to 2299", e.Timestamp.UTC().Format(time.RFC3339)))
	case e.Timestamp.After(now.Add(maxFutureSkew)):
		errs = append(errs, fmt.Sprintf("timestamp %s is more than %s ahead of the server clock", e.Timestamp.UTC().Format(time.RFC3339), maxFutureSkew))
	}

	p := e.Properties
	for _, k := range TokenKeys {
		if _, ok := p[k]; !ok {
			continue
		}
		if n, ok := Int(p, k); !ok || n < 0 || n > MaxTokens {
			errs = append(errs, fmt.Sprintf("%s must be a non-negative integer up to %d", k, int64(MaxTokens)))
		}
	}
	in, hasIn := Int(p, "input_tokens")
	cached, _ := Int(p, "cached_input_tokens")
	written, _ := Int(p, "cache_creation_input_tokens")
	if hasIn && cached+written > in {
		errs = append(errs, "cached_input_tokens + cache_creation_input_tokens must not exceed input_tokens")
	}
	out, hasOut := Int(p, "output_tokens")
	if r, ok := Int(p, "reasoning_tokens"); ok && hasOut && r > out {
		errs = append(errs, "reasoning_tokens must not exceed output_tokens")
	}
	for _, k := range []string{"cost_usd", "saved_cost_usd", "duration_ms"} {
		if _, ok := p[k]; !ok {
			continue
		}
		if f, ok := Float(p, k); !ok || !(f >= 0 && f <= MaxAmount) {
			errs = append(errs, fmt.Sprintf("%s must be a number from 0 to %g", k, MaxAmount))
		}
	}
	if _, ok := p["amount"]; ok {
		if f, ok := Float(p, "amount"); !ok || !(math.Abs(f) <= MaxAmount) {
			errs = append(errs, fmt.Sprintf("amount must be a number from %g to %g", -MaxAmount, MaxAmount))
		}
	}
	if e.CostUSD != nil && !(*e.CostUSD >= 0 && *e.CostUSD <= MaxAmount) {
		errs = append(errs, fmt.Sprintf("cost must be a number from 0 to %g", MaxAmount))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
