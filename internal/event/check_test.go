package event

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	valid := func() Event {
		return Event{
			EventID: "e", EventType: TypeLLMCall, UserID: "u", ProductID: "p", Timestamp: now.Add(-time.Hour),
			Properties: map[string]any{"input_tokens": int64(1000), "cached_input_tokens": int64(200), "output_tokens": int64(50), "cost_usd": 0.01},
		}
	}
	e := valid()
	require.NoError(t, e.Check(now, 24*time.Hour))

	tests := []struct {
		name   string
		mutate func(*Event)
		want   string
	}{
		{"no user", func(e *Event) { e.UserID = "" }, "user_id is empty"},
		{"epoch zero", func(e *Event) { e.Timestamp = time.Unix(0, 0).Add(-time.Hour * 24 * 365 * 71) }, "outside the years 1900 to 2299"},
		{"year 2300", func(e *Event) { e.Timestamp = MaxTime }, "outside the years 1900 to 2299"},
		{"two days ahead", func(e *Event) { e.Timestamp = now.Add(48 * time.Hour) }, "more than 24h0m0s ahead"},
		{"huge tokens", func(e *Event) { e.Properties["input_tokens"] = int64(1) << 62 }, "input_tokens must be a non-negative integer up to 1099511627776"},
		{"negative tokens", func(e *Event) { e.Properties["output_tokens"] = int64(-1) }, "output_tokens must be a non-negative integer"},
		{"cached over input", func(e *Event) { e.Properties["cached_input_tokens"] = int64(1001) }, "must not exceed input_tokens"},
		{"huge cost", func(e *Event) { e.Properties["cost_usd"] = 1e300 }, "cost_usd must be a number from 0 to 1e+12"},
		{"NaN cost", func(e *Event) { e.Properties["cost_usd"] = math.NaN() }, "cost_usd must be a number"},
		{"huge payment", func(e *Event) { e.Properties["amount"] = -1e13 }, "amount must be a number from -1e+12 to 1e+12"},
		{"derived cost", func(e *Event) { c := math.Inf(1); e.CostUSD = &c }, "cost must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.mutate(&e)
			assert.ErrorContains(t, e.Check(now, 24*time.Hour), tt.want)
		})
	}
}
