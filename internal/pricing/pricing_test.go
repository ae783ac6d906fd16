package pricing

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		in   string
		want string // the name the table must resolve it to
	}{
		{"gpt-4o", "gpt-4o"},
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"GPT-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-2024-05-13", "gpt-4o-2024-05-13"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4"},
		{"anthropic/claude-3-5-haiku-latest", "claude-3-5-haiku"},
		{"us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"},
		{"claude-3-5-sonnet@20240620", "claude-3-5-sonnet"},
		{"models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"gemini-2.5-flash-lite", "gemini-2.5-flash-lite"},
		{"gemini-3-pro-preview", "gemini-3-pro-preview"},
		{"o4-mini-2025-04-16", "o4-mini"},
	}
	tbl := Default()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := tbl.Lookup(tt.in)
			require.True(t, ok, "no price for %s", tt.in)
			want, ok := tbl.prices[tt.want]
			require.True(t, ok)
			assert.Equal(t, want, got)
		})
	}
}

func TestLookupNeverGuesses(t *testing.T) {
	tbl := Default()
	for _, m := range []string{"", "gpt-4o-mega", "llama-3-70b", "claude", "my-finetune"} {
		_, ok := tbl.Lookup(m)
		assert.False(t, ok, m)
	}
	// gpt-4o-mini must not fall back to gpt-4o's price.
	mini, _ := tbl.Lookup("gpt-4o-mini")
	assert.InDelta(t, 0.15, mini.Input, 1e-12)
}

func TestCost(t *testing.T) {
	p := Price{Input: 3, CachedInput: 0.3, CacheWrite: 3.75, Output: 15}
	u := Usage{Input: 10_000, CachedInput: 6_000, CacheCreation: 1_000, Output: 500}
	want := (3_000*3.0 + 6_000*0.3 + 1_000*3.75 + 500*15.0) / 1e6
	assert.InDelta(t, want, p.Cost(u), 1e-15)

	// No cache rates: cached tokens are billed as input.
	p = Price{Input: 2, Output: 8}
	assert.InDelta(t, (1_000*2.0+200*8.0)/1e6, p.Cost(Usage{Input: 1_000, CachedInput: 400, Output: 200}), 1e-15)

	// More cached than input is clamped, never negative.
	assert.InDelta(t, (50*0.3)/1e6, Price{Input: 3, CachedInput: 0.3}.Cost(Usage{Input: 10, CachedInput: 50}), 1e-15)
}

func TestParseRejectsBadRates(t *testing.T) {
	_, err := Parse([]byte(`{"models":[{"model":"x","input":-1,"output":1}]}`))
	assert.ErrorContains(t, err, `model "x": input must be a finite number >= 0, got -1`)
	_, err = Parse([]byte(`not json`))
	assert.ErrorContains(t, err, "failed to parse price table")
}
