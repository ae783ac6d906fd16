// Package pricing holds the model price table and computes the cost of an
// LLM call from its token counts.
package pricing

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
)

//go:embed prices.json
var defaultTable []byte

// Price is a model's list price in US dollars per million tokens. A zero
// CachedInput or CacheWrite means the provider bills those tokens at the
// input rate.
type Price struct {
	Input       float64 `json:"input" mapstructure:"input"`
	CachedInput float64 `json:"cached_input" mapstructure:"cached_input"`
	CacheWrite  float64 `json:"cache_write" mapstructure:"cache_write"`
	Output      float64 `json:"output" mapstructure:"output"`
}

type fileModel struct {
	Model    string   `json:"model"`
	Provider string   `json:"provider"`
	Aliases  []string `json:"aliases"`
	Price
}

type file struct {
	Models []fileModel `json:"models"`
}

// Table maps normalized model names to prices.
type Table struct {
	prices map[string]Price
}

// Default returns the table shipped with AgentPulse.
func Default() *Table {
	t, err := Parse(defaultTable)
	if err != nil {
		panic(fmt.Sprintf("embedded price table is invalid: %v", err))
	}
	return t
}

// LoadFile reads a price table file in the format of prices.json.
func LoadFile(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read price table: %w", err)
	}
	return Parse(b)
}

// Parse reads a price table in the format of prices.json.
func Parse(b []byte) (*Table, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("failed to parse price table: %w", err)
	}
	t := &Table{prices: make(map[string]Price, len(f.Models))}
	var errs []error
	for _, m := range f.Models {
		if problems := m.Price.Problems(); len(problems) > 0 {
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("model %q: %w", m.Model, err))
			}
			continue
		}
		t.Set(m.Model, m.Price)
		for _, a := range m.Aliases {
			t.Set(a, m.Price)
		}
	}
	return t, errors.Join(errs...)
}

// Problems lists every negative or non-finite rate, in the order of the
// configuration's fields.
func (p Price) Problems() []error {
	var errs []error
	for _, r := range []struct {
		name string
		v    float64
	}{{"input", p.Input}, {"cached_input", p.CachedInput}, {"cache_write", p.CacheWrite}, {"output", p.Output}} {
		if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be a finite number >= 0, got %v", r.name, r.v))
		}
	}
	return errs
}

// Set adds or replaces the price of a model.
func (t *Table) Set(model string, p Price) {
	t.prices[strings.ToLower(strings.TrimSpace(model))] = p
}

// Len is the number of names in the table, aliases included.
func (t *Table) Len() int { return len(t.prices) }

var (
	bedrockRegion  = regexp.MustCompile(`^(us|eu|apac|au|jp|global)\.`)
	bedrockVendor  = regexp.MustCompile(`^(anthropic|openai|google|meta|amazon|mistral|cohere)\.`)
	versionSuffix  = regexp.MustCompile(`(-v\d+(:\d+)?|@[\w.-]+|:[\w.-]+)$`)
	dateSuffix     = regexp.MustCompile(`-(\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}|\d{4}|latest|preview|exp)$`)
	maxSuffixSteps = 3
)

// Candidates returns the names a model is looked up under, most specific
// first: the lowercased name without provider prefixes and version tags,
// then with date, "latest" and "preview" suffixes removed one at a time.
func Candidates(model string) []string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m = bedrockRegion.ReplaceAllString(m, "")
	m = bedrockVendor.ReplaceAllString(m, "")
	out := []string{m}
	if s := versionSuffix.ReplaceAllString(m, ""); s != m && s != "" {
		m = s
		out = append(out, m)
	}
	for range maxSuffixSteps {
		s := dateSuffix.ReplaceAllString(m, "")
		if s == m || s == "" {
			break
		}
		m = s
		out = append(out, m)
	}
	return out
}

// Lookup finds a model's price after normalizing its name.
func (t *Table) Lookup(model string) (Price, bool) {
	if model == "" {
		return Price{}, false
	}
	for _, c := range Candidates(model) {
		if p, ok := t.prices[c]; ok {
			return p, true
		}
	}
	return Price{}, false
}

// Usage is an LLM call's token counts as the API contract defines them:
// Input includes the cached and cache-creation tokens, Output includes the
// reasoning tokens.
type Usage struct {
	Input         int64
	Output        int64
	CachedInput   int64
	CacheCreation int64
}

// Cost is the call's cost in US dollars: uncached input at the input rate,
// cache reads and writes at theirs, output at the output rate.
func (p Price) Cost(u Usage) float64 {
	cachedRate, writeRate := p.CachedInput, p.CacheWrite
	if cachedRate == 0 {
		cachedRate = p.Input
	}
	if writeRate == 0 {
		writeRate = p.Input
	}
	// Counts that claim more cached than total input are clamped rather than
	// producing a negative charge.
	uncached := max(u.Input-u.CachedInput-u.CacheCreation, 0)
	micro := float64(uncached)*p.Input +
		float64(u.CachedInput)*cachedRate +
		float64(u.CacheCreation)*writeRate +
		float64(u.Output)*p.Output
	return micro / 1e6
}
