package agentpulseprocessor

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{
			id:   component.NewID(metadata.Type),
			want: createDefaultConfig(),
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				SessionTimeout:  45 * time.Minute,
				MaxOpenSessions: 5000,
				ExchangeRates:   map[string]float64{"BRL": 0.18, "eur": 1.08},
				Pricing: PricingConfig{
					File: "testdata/prices.json",
					Models: map[string]ModelPrice{
						"my-finetune": {Input: 1.0, Output: 2.0},
						"big-model":   {Input: 4.0, CachedInput: 0.4, CacheWrite: 5.0, Output: 16.0},
					},
				},
				TracesProductID: "support-bot",
				DefaultProduct:  ProductConfig{TrackContent: true},
				Products: map[string]ProductConfig{
					"legal-bot": {
						TrackContent: false,
						Topics: []TopicRule{
							{Topic: "divorce", Keywords: []string{"divorce", "custody"}},
							{Topic: "labor", Keywords: []string{"dismissal", "unpaid overtime"}},
						},
					},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			assert.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigStruct(t *testing.T) {
	assert.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestUnknownKeyIsRejected(t *testing.T) {
	cfg := createDefaultConfig()
	err := confmap.NewFromStringMap(map[string]any{"session_timout": "5m"}).Unmarshal(cfg)
	assert.ErrorContains(t, err, "session_timout")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		errs   []string
	}{
		{
			name:   "timeout",
			modify: func(c *Config) { c.SessionTimeout = 0 },
			errs:   []string{"session_timeout must be at least 1ms, got 0s"},
		},
		{
			name:   "sub-millisecond timeout",
			modify: func(c *Config) { c.SessionTimeout = 500 * time.Microsecond },
			errs:   []string{"session_timeout must be at least 1ms, got 500µs"},
		},
		{
			name:   "max open sessions",
			modify: func(c *Config) { c.MaxOpenSessions = -3 },
			errs:   []string{"max_open_sessions must be at least 1, got -3"},
		},
		{
			name: "exchange rates",
			modify: func(c *Config) {
				c.ExchangeRates = map[string]float64{
					"EURO": 1.1, "BRL": -0.2, "JPY": math.NaN(), "usd": 1.2, "gbp": 1.3, "GBP": 1.3,
				}
			},
			errs: []string{
				`exchange_rates: "EURO" is not a currency code: use a 3-letter ISO 4217 code such as EUR`,
				"exchange_rates::BRL must be a finite number > 0 (US dollars per unit), got -0.2",
				"exchange_rates::JPY must be a finite number > 0 (US dollars per unit), got NaN",
				"exchange_rates::usd must be 1 or left out, got 1.2",
				`exchange_rates: "GBP" and "gbp" name the same currency`,
			},
		},
		{
			name: "pricing",
			modify: func(c *Config) {
				c.Pricing.File = filepath.Join("testdata", "missing.json")
				c.Pricing.Models = map[string]ModelPrice{
					"neg":            {Input: -1, Output: math.NaN()},
					"inf":            {Input: 1, Output: math.Inf(1)},
					"openai/my-tune": {Input: 1, Output: 1},
					" ":              {Input: 1},
				}
			},
			errs: []string{
				"pricing::file: failed to read price table: open testdata/missing.json",
				"pricing::models::neg: input must be a finite number >= 0, got -1",
				"pricing::models::neg: output must be a finite number >= 0, got NaN",
				"pricing::models::inf: output must be a finite number >= 0, got +Inf",
				`pricing::models: "openai/my-tune" would never match, because model names are looked up without provider prefixes and region tags: use "my-tune"`,
				`pricing::models: a model name must not be blank, got " "`,
			},
		},
		{
			name: "topics",
			modify: func(c *Config) {
				c.DefaultProduct.Topics = []TopicRule{{Topic: "", Keywords: []string{"a"}}}
				c.Products = map[string]ProductConfig{
					"bot": {Topics: []TopicRule{
						{Topic: "ok", Keywords: []string{"fine"}},
						{Topic: "empty"},
						{Topic: "blank", Keywords: []string{"x", "  "}},
					}},
					"": {},
				}
			},
			errs: []string{
				"default_product::topics::0::topic must not be blank",
				"products::bot::topics::1::keywords must list at least one word or phrase",
				"products::bot::topics::2::keywords::1 must not be blank",
				`products: a product id must not be blank, got ""`,
			},
		},
		{
			name:   "traces product",
			modify: func(c *Config) { c.TracesProductID = " my-bot" },
			errs:   []string{`traces_product_id must be a product id without surrounding spaces, or left out, got " my-bot"`},
		},
		{
			name:   "blank traces product",
			modify: func(c *Config) { c.TracesProductID = "  " },
			errs:   []string{`traces_product_id must be a product id without surrounding spaces, or left out, got "  "`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tt.modify(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.ErrorContains(t, err, want)
			}
			// Nothing else is reported: one line per expected problem.
			assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(tt.errs))
		})
	}
}

func TestValidateDefaultAndFile(t *testing.T) {
	assert.NoError(t, createDefaultConfig().Validate())

	cfg := createDefaultConfig()
	cfg.Pricing.File = filepath.Join("testdata", "prices.json")
	assert.NoError(t, cfg.Validate())
}
