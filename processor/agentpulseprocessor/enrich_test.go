package agentpulseprocessor

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
)

func rate(t *testing.T, tbl *pricing.Table, model string) pricing.Price {
	t.Helper()
	p, ok := tbl.Lookup(model)
	require.True(t, ok, "no price for %s", model)

	return p
}

func TestLLMCost(t *testing.T) {
	tbl := pricing.Default()
	sonnet := rate(t, tbl, "claude-sonnet-4")
	gpt4o := rate(t, tbl, "gpt-4o")
	mini := rate(t, tbl, "gpt-4o-mini")

	tests := []struct {
		name   string
		props  map[string]any
		cost   float64
		status string
		reason string
	}{
		{
			name:   "reported cost wins over the table",
			props:  map[string]any{"model": "gpt-4o", "input_tokens": int64(1000), "cost_usd": 0.0123},
			cost:   0.0123,
			status: event.CostReported,
		},
		{
			name:   "reported cost of an unknown model",
			props:  map[string]any{"model": "my-own", "cost_usd": int64(0)},
			cost:   0,
			status: event.CostReported,
		},
		{
			name:   "computed, dated name",
			props:  map[string]any{"model": "claude-sonnet-4-20250514", "input_tokens": int64(5853), "output_tokens": int64(1017)},
			cost:   (5853*sonnet.Input + 1017*sonnet.Output) / 1e6,
			status: event.CostComputed,
		},
		{
			name: "computed with cache reads and writes",
			props: map[string]any{
				"model": "claude-sonnet-4", "input_tokens": int64(10_000), "cached_input_tokens": int64(6_000),
				"cache_creation_input_tokens": int64(1_000), "output_tokens": int64(500),
			},
			cost:   (3_000*sonnet.Input + 6_000*sonnet.CachedInput + 1_000*sonnet.CacheWrite + 500*sonnet.Output) / 1e6,
			status: event.CostComputed,
		},
		{
			name:   "computed, counts as numeric strings and floats",
			props:  map[string]any{"model": "openai/gpt-4o", "input_tokens": "2451", "output_tokens": 874.0},
			cost:   (2451*gpt4o.Input + 874*gpt4o.Output) / 1e6,
			status: event.CostComputed,
		},
		{
			name:   "output only",
			props:  map[string]any{"model": "gpt-4o-mini", "output_tokens": int64(300)},
			cost:   300 * mini.Output / 1e6,
			status: event.CostComputed,
		},
		{
			name:   "unknown model is never guessed",
			props:  map[string]any{"model": "gpt-4o-mega", "input_tokens": int64(100), "output_tokens": int64(10)},
			status: event.CostUnpriced,
			reason: unpricedUnknownModel,
		},
		{
			name:   "no model",
			props:  map[string]any{"input_tokens": int64(100)},
			status: event.CostUnpriced,
			reason: unpricedUnknownModel,
		},
		{
			name:   "no token counts",
			props:  map[string]any{"model": "gpt-4o"},
			status: event.CostUnpriced,
			reason: unpricedNoUsage,
		},
		{
			name:   "invalid counts and cost are ignored",
			props:  map[string]any{"model": "gpt-4o", "input_tokens": int64(-5), "output_tokens": 1.5, "cost_usd": math.NaN()},
			status: event.CostUnpriced,
			reason: unpricedNoUsage,
		},
		{
			name:   "negative reported cost falls back to the table",
			props:  map[string]any{"model": "gpt-4o", "input_tokens": int64(1000), "cost_usd": -1.0},
			cost:   1000 * gpt4o.Input / 1e6,
			status: event.CostComputed,
		},
		{
			name:   "nil properties",
			status: event.CostUnpriced,
			reason: unpricedUnknownModel,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cost, status, reason := llmCost(tbl, tt.props)
			assert.InDelta(t, tt.cost, cost, 1e-15)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.reason, reason)
		})
	}
}

func TestPricingOverrides(t *testing.T) {
	cfg := PricingConfig{
		File: filepath.Join("testdata", "prices.json"),
		Models: map[string]ModelPrice{
			"my-finetune": {Input: 1.0, Output: 2.0},
			"gpt-4o":      {Input: 3.0, CachedInput: 1.0, Output: 9.0},
		},
	}
	tbl, errs := cfg.table()
	require.Empty(t, errs)

	// The file replaces the built-in table: models only in it are priced
	// (rates as written in testdata/prices.json), built-in ones are gone.
	cost, status, _ := llmCost(tbl, map[string]any{"model": "house-model-chat", "input_tokens": int64(2000), "cached_input_tokens": int64(500), "output_tokens": int64(100)})
	assert.Equal(t, event.CostComputed, status)
	assert.InDelta(t, (1500*0.5+500*0.05+100*1.5)/1e6, cost, 1e-15)
	_, status, _ = llmCost(tbl, map[string]any{"model": "gpt-4.1", "input_tokens": int64(1)})
	assert.Equal(t, event.CostUnpriced, status)

	// Configured models add to it and override it.
	cost, _, _ = llmCost(tbl, map[string]any{"model": "my-finetune", "input_tokens": int64(1000), "output_tokens": int64(500)})
	assert.InDelta(t, (1000*1.0+500*2.0)/1e6, cost, 1e-15)
	cost, _, _ = llmCost(tbl, map[string]any{"model": "gpt-4o", "input_tokens": int64(1000), "cached_input_tokens": int64(400), "output_tokens": int64(10)})
	assert.InDelta(t, (600*3.0+400*1.0+10*9.0)/1e6, cost, 1e-15)

	// Without a file, the built-in table is extended.
	tbl, errs = PricingConfig{Models: map[string]ModelPrice{"my-finetune": {Input: 1.0, Output: 2.0}}}.table()
	require.Empty(t, errs)
	mini := rate(t, tbl, "gpt-4o-mini")
	cost, _, _ = llmCost(tbl, map[string]any{"model": "gpt-4o-mini", "input_tokens": int64(100)})
	assert.InDelta(t, 100*mini.Input/1e6, cost, 1e-15)
}

func TestToolCost(t *testing.T) {
	cost, status := toolCost(map[string]any{"tool_name": "search", "cost_usd": 0.002})
	assert.InDelta(t, 0.002, cost, 1e-15)
	assert.Equal(t, event.CostReported, status)

	cost, status = toolCost(map[string]any{"tool_name": "search"})
	assert.Zero(t, cost)
	assert.Equal(t, event.CostUnpriced, status)
}

func TestConvertPayment(t *testing.T) {
	rates, errs := normalizeRates(map[string]float64{"brl": 0.18, "EUR": 1.08})
	require.Empty(t, errs)

	tests := []struct {
		name     string
		props    map[string]any
		usd      *float64
		currency string
		known    bool
	}{
		{"lower-case code", map[string]any{"amount": 29.0, "currency": "brl"}, ptr(29.0 * 0.18), "BRL", true},
		{"integer amount", map[string]any{"amount": int64(100), "currency": " EUR "}, ptr(100 * 1.08), "EUR", true},
		{"default USD", map[string]any{"amount": 12.5}, ptr(12.5), "USD", true},
		{"explicit USD", map[string]any{"amount": 3.0, "currency": "usd"}, ptr(3.0), "USD", true},
		{"no rate", map[string]any{"amount": 50.0, "currency": "JPY"}, nil, "JPY", false},
		{"no amount", map[string]any{"currency": "EUR"}, nil, "EUR", true},
		{"non-finite amount", map[string]any{"amount": math.Inf(1), "currency": "EUR"}, nil, "EUR", true},
		{"currency not a string", map[string]any{"amount": 1.0, "currency": int64(978)}, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usd, currency, known := convertPayment(rates, tt.props)
			if tt.usd == nil {
				assert.Nil(t, usd)
			} else {
				require.NotNil(t, usd)
				assert.InDelta(t, *tt.usd, *usd, 1e-12)
			}
			assert.Equal(t, tt.currency, currency)
			assert.Equal(t, tt.known, known)
			if tt.currency != "" {
				assert.Equal(t, tt.currency, tt.props["currency"], "the code is written back normalized")
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestClassify(t *testing.T) {
	rules := compilePolicy(ProductConfig{Topics: []TopicRule{
		{Topic: "divorce", Keywords: []string{"Divorce", "custody"}},
		{Topic: "labor", Keywords: []string{"dismissal", "unpaid overtime"}},
		{Topic: "família", Keywords: []string{"pensão"}},
	}}).rules

	tests := []struct {
		content string
		want    string
	}{
		{"I want a DIVORCE.", "divorce"},
		{"custody of my kids", "divorce"},
		{"Divorced last year", ""},           // not a whole word
		{"about the divorcee", ""},           // not a whole word
		{"pre-divorce agreement", "divorce"}, // hyphens separate words
		{"They owe me unpaid   overtime", ""},
		{"They owe me UNPAID overtime!", "labor"},
		{"dismissal and divorce", "divorce"}, // the first rule wins, not the first word
		{"Pensão alimentícia", "família"},
		{"pensões", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.content, func(t *testing.T) {
			assert.Equal(t, tt.want, classify(rules, tt.content))
		})
	}
}

func TestContainsWordBoundaries(t *testing.T) {
	assert.True(t, containsWord("ab ab", "ab"))
	assert.True(t, containsWord("xab ab", "ab"), "a later occurrence counts")
	assert.False(t, containsWord("xab abx", "ab"))
	assert.True(t, containsWord("é ab", "ab"))
	assert.False(t, containsWord("éab", "ab"))
	assert.False(t, containsWord("ab\u0301", "ab"), "a combining mark continues the word")
	assert.False(t, containsWord("a", "ab"))
	assert.True(t, containsWord("ab\xff", "ab"), "invalid UTF-8 is not a letter")
}

func TestContentPolicy(t *testing.T) {
	content := "Olá, preciso de ajuda 👋"
	wantLen := int64(len([]rune(content)))

	dropped := map[string]any{"content": content}
	applyContentPolicy(dropped, false)
	assert.Equal(t, map[string]any{"content_length": wantLen}, dropped)

	kept := map[string]any{"content": content}
	applyContentPolicy(kept, true)
	assert.Equal(t, map[string]any{"content": content, "content_length": wantLen}, kept)

	// A length the client sent is kept as is.
	given := map[string]any{"content": "abc", "content_length": int64(7)}
	applyContentPolicy(given, false)
	assert.Equal(t, map[string]any{"content_length": int64(7)}, given)

	// Content that is not a string is dropped too, without a length.
	odd := map[string]any{"content": map[string]any{"text": "hi"}}
	applyContentPolicy(odd, false)
	assert.Empty(t, odd)

	// No content: nothing changes.
	none := map[string]any{"content_length": int64(12)}
	applyContentPolicy(none, false)
	assert.Equal(t, map[string]any{"content_length": int64(12)}, none)
	applyContentPolicy(nil, false)
}
