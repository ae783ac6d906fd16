package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/agentpulse/agentpulse/internal/pricing"
)

// Config is the configuration of the agentpulse processor.
type Config struct {
	// SessionTimeout closes a server-side session after this long without
	// events of its user, measured between event timestamps.
	SessionTimeout time.Duration `mapstructure:"session_timeout"`

	// MaxOpenSessions bounds how many users' session state is held in
	// memory; beyond it the least recently active user is forgotten.
	MaxOpenSessions int `mapstructure:"max_open_sessions"`

	// ExchangeRates maps an ISO 4217 currency code to US dollars per unit.
	// USD is always 1.
	ExchangeRates map[string]float64 `mapstructure:"exchange_rates"`

	// Pricing replaces or extends the model price table.
	Pricing PricingConfig `mapstructure:"pricing"`

	// DefaultProduct applies to every product not listed in Products.
	DefaultProduct ProductConfig `mapstructure:"default_product"`

	// Products holds per-product settings, keyed by product id.
	Products map[string]ProductConfig `mapstructure:"products"`

	// TracesProductID is the product of spans whose request carries no
	// AgentPulse key (the agentpulse_query authenticator) and whose resource
	// has no agentpulse.product_id. Empty: such spans are passed on as they
	// are, without events.
	TracesProductID string `mapstructure:"traces_product_id"`
}

// PricingConfig selects the model price table.
type PricingConfig struct {
	// File is an optional path to a table in the format of the built-in
	// prices.json; when set it replaces the built-in table.
	File string `mapstructure:"file"`

	// Models adds or overrides prices by model name.
	Models map[string]ModelPrice `mapstructure:"models"`
}

// ModelPrice is a model's price in US dollars per million tokens. A zero
// CachedInput or CacheWrite bills those tokens at the Input rate.
type ModelPrice struct {
	Input       float64 `mapstructure:"input"`
	CachedInput float64 `mapstructure:"cached_input"`
	CacheWrite  float64 `mapstructure:"cache_write"`
	Output      float64 `mapstructure:"output"`
}

// ProductConfig holds one product's content policy and topic rules.
type ProductConfig struct {
	// TrackContent keeps message content; when false (the default) the
	// content of message.user and message.agent events is dropped and only
	// its length is kept.
	TrackContent bool `mapstructure:"track_content"`

	// Topics are tried in order against message.user content; the first
	// rule with a matching keyword names the event's topic.
	Topics []TopicRule `mapstructure:"topics"`
}

// TopicRule names a topic and the keywords that reveal it. Keywords match
// case-insensitively as whole words; a keyword may be a phrase.
type TopicRule struct {
	Topic    string   `mapstructure:"topic"`
	Keywords []string `mapstructure:"keywords"`
}

func createDefaultConfig() *Config {
	return &Config{
		SessionTimeout:  30 * time.Minute,
		MaxOpenSessions: 100_000,
	}
}

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.SessionTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("session_timeout must be at least 1ms, got %s", cfg.SessionTimeout))
	}
	if cfg.MaxOpenSessions < 1 {
		errs = append(errs, fmt.Errorf("max_open_sessions must be at least 1, got %d", cfg.MaxOpenSessions))
	}
	_, rateErrs := normalizeRates(cfg.ExchangeRates)
	errs = append(errs, rateErrs...)
	_, priceErrs := cfg.Pricing.table()
	errs = append(errs, priceErrs...)
	errs = append(errs, cfg.DefaultProduct.validate("default_product")...)
	for _, name := range sortedKeys(cfg.Products) {
		if strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Errorf("products: a product id must not be blank, got %q", name))
			continue
		}
		errs = append(errs, cfg.Products[name].validate("products::"+name)...)
	}
	if p := cfg.TracesProductID; p != "" && (strings.TrimSpace(p) == "" || strings.TrimSpace(p) != p) {
		errs = append(errs, fmt.Errorf("traces_product_id must be a product id without surrounding spaces, or left out, got %q", p))
	}

	return errors.Join(errs...)
}

func (pc ProductConfig) validate(path string) []error {
	var errs []error
	for i, r := range pc.Topics {
		rpath := fmt.Sprintf("%s::topics::%d", path, i)
		if strings.TrimSpace(r.Topic) == "" {
			errs = append(errs, fmt.Errorf("%s::topic must not be blank", rpath))
		}
		if len(r.Keywords) == 0 {
			errs = append(errs, fmt.Errorf("%s::keywords must list at least one word or phrase", rpath))
		}
		for j, k := range r.Keywords {
			if strings.TrimSpace(k) == "" {
				errs = append(errs, fmt.Errorf("%s::keywords::%d must not be blank", rpath, j))
			}
		}
	}

	return errs
}

// normalizeRates validates the exchange-rate table and returns it keyed by
// upper-case code, with USD set to 1.
func normalizeRates(in map[string]float64) (map[string]float64, []error) {
	out := map[string]float64{"USD": 1}
	var errs []error
	seen := map[string]string{}
	for _, code := range sortedKeys(in) {
		rate := in[code]
		norm := strings.ToUpper(strings.TrimSpace(code))
		if !isCurrencyCode(norm) {
			errs = append(errs, fmt.Errorf("exchange_rates: %q is not a currency code: use a 3-letter ISO 4217 code such as EUR", code))
			continue
		}
		if prev, ok := seen[norm]; ok {
			errs = append(errs, fmt.Errorf("exchange_rates: %q and %q name the same currency", prev, code))
			continue
		}
		seen[norm] = code
		switch {
		case rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
			errs = append(errs, fmt.Errorf("exchange_rates::%s must be a finite number > 0 (US dollars per unit), got %v", code, rate))
		case norm == "USD" && rate != 1:
			errs = append(errs, fmt.Errorf("exchange_rates::%s must be 1 or left out, got %v", code, rate))
		default:
			out[norm] = rate
		}
	}

	return out, errs
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}

	return true
}

// table builds the price table: the file's or the built-in one, then the
// configured models on top.
func (pc PricingConfig) table() (*pricing.Table, []error) {
	var errs []error
	tbl := pricing.Default()
	if pc.File != "" {
		loaded, err := pricing.LoadFile(pc.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("pricing::file: %w", err))
		} else {
			tbl = loaded
		}
	}
	for _, name := range sortedKeys(pc.Models) {
		m := pc.Models[name]
		p := pricing.Price{Input: m.Input, CachedInput: m.CachedInput, CacheWrite: m.CacheWrite, Output: m.Output}
		lookedUp := strings.ToLower(strings.TrimSpace(name))
		if lookedUp == "" {
			errs = append(errs, fmt.Errorf("pricing::models: a model name must not be blank, got %q", name))
			continue
		}
		if cands := pricing.Candidates(name); cands[0] != lookedUp {
			errs = append(errs, fmt.Errorf("pricing::models: %q would never match, because model names are looked up without provider prefixes and region tags: use %q", name, cands[0]))
			continue
		}
		if problems := p.Problems(); len(problems) > 0 {
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("pricing::models::%s: %w", name, err))
			}
			continue
		}
		tbl.Set(name, p)
	}

	return tbl, errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	return keys
}
