package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
)

// Property keys read or written by the processor.
const (
	propModel         = "model"
	propInputTokens   = "input_tokens"
	propOutputTokens  = "output_tokens"
	propCachedInput   = "cached_input_tokens"
	propCacheCreation = "cache_creation_input_tokens"
	propCostUSD       = "cost_usd"
	propAmount        = "amount"
	propCurrency      = "currency"
	propContent       = "content"
	propContentLength = "content_length"

	defaultCurrency = "USD"
)

// Reasons an LLM call is left unpriced.
const (
	unpricedUnknownModel = "unknown_model"
	unpricedNoUsage      = "no_usage"
)

// policy is one product's compiled settings.
type policy struct {
	trackContent bool
	rules        []topicRule
}

// topicRule holds a topic and its lower-cased keywords.
type topicRule struct {
	topic    string
	keywords []string
}

func compilePolicy(pc ProductConfig) *policy {
	p := &policy{trackContent: pc.TrackContent}
	for _, r := range pc.Topics {
		rule := topicRule{topic: strings.TrimSpace(r.Topic)}
		for _, k := range r.Keywords {
			if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
				rule.keywords = append(rule.keywords, k)
			}
		}
		p.rules = append(p.rules, rule)
	}

	return p
}

// priceLookup finds a model's price.
type priceLookup interface {
	Lookup(model string) (pricing.Price, bool)
}

// maxCachedModels bounds the lookup cache against endless distinct names.
const maxCachedModels = 4096

// cachedPrices remembers lookups, since normalizing a model name costs
// more than the rest of pricing a call.
type cachedPrices struct {
	table *pricing.Table
	mu    sync.RWMutex
	cache map[string]cachedPrice
}

type cachedPrice struct {
	price pricing.Price
	ok    bool
}

func newCachedPrices(t *pricing.Table) *cachedPrices {
	return &cachedPrices{table: t, cache: make(map[string]cachedPrice)}
}

func (c *cachedPrices) Lookup(model string) (pricing.Price, bool) {
	c.mu.RLock()
	hit, found := c.cache[model]
	c.mu.RUnlock()
	if found {
		return hit.price, hit.ok
	}

	p, ok := c.table.Lookup(model)
	c.mu.Lock()
	if len(c.cache) < maxCachedModels {
		c.cache[model] = cachedPrice{price: p, ok: ok}
	}
	c.mu.Unlock()

	return p, ok
}

// llmCost prices an action.llm_call from its properties: a reported
// cost_usd wins; else the model's price applied to the token counts; else
// the call is unpriced with cost 0 and the reason why.
func llmCost(prices priceLookup, props map[string]any) (cost float64, status, reason string) {
	if c, ok := reportedCost(props); ok {
		return c, event.CostReported, ""
	}
	price, ok := prices.Lookup(event.String(props, propModel))
	if !ok {
		return 0, event.CostUnpriced, unpricedUnknownModel
	}
	in, hasIn := tokenCount(props, propInputTokens)
	out, hasOut := tokenCount(props, propOutputTokens)
	if !hasIn && !hasOut {
		return 0, event.CostUnpriced, unpricedNoUsage
	}
	cached, _ := tokenCount(props, propCachedInput)
	created, _ := tokenCount(props, propCacheCreation)
	u := pricing.Usage{Input: in, Output: out, CachedInput: cached, CacheCreation: created}

	return price.Cost(u), event.CostComputed, ""
}

// toolCost prices an action.tool_call: its reported cost_usd, else 0 and
// unpriced.
func toolCost(props map[string]any) (float64, string) {
	if c, ok := reportedCost(props); ok {
		return c, event.CostReported
	}

	return 0, event.CostUnpriced
}

// reportedCost reads cost_usd when it is a finite number >= 0.
func reportedCost(props map[string]any) (float64, bool) {
	c, ok := event.Float(props, propCostUSD)
	if !ok || c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		return 0, false
	}

	return c, true
}

// tokenCount reads a token count: a non-negative integer, or a string
// holding one.
func tokenCount(props map[string]any, key string) (int64, bool) {
	n, ok := event.Int(props, key)
	if !ok {
		s, isStr := props[key].(string)
		if !isStr {
			return 0, false
		}
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return 0, false
		}
	}
	if n < 0 {
		return 0, false
	}

	return n, true
}

// paymentCurrency returns the payment's currency code, upper-cased, USD
// when absent, and whether the property held a usable string.
func paymentCurrency(props map[string]any) (string, bool) {
	v, present := props[propCurrency]
	if !present {
		return defaultCurrency, true
	}
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return defaultCurrency, true
	}

	return s, true
}

// convertPayment normalizes an outcome.payment's currency in props and
// returns its amount in US dollars, or nil when the amount is missing or
// the currency has no rate. known is false only for a currency without a
// rate (or one that is not a string).
func convertPayment(rates map[string]float64, props map[string]any) (amountUSD *float64, currency string, known bool) {
	if props == nil {
		return nil, defaultCurrency, true
	}
	currency, ok := paymentCurrency(props)
	if !ok {
		return nil, "", false
	}
	props[propCurrency] = currency

	rate, ok := rates[currency]
	if !ok {
		return nil, currency, false
	}
	amount, ok := event.Float(props, propAmount)
	if !ok || math.IsNaN(amount) || math.IsInf(amount, 0) {
		return nil, currency, true
	}
	usd := amount * rate

	return &usd, currency, true
}

// classify returns the topic of the first rule one of whose keywords
// occurs in content as a whole word, ignoring case, or "".
func classify(rules []topicRule, content string) string {
	if len(rules) == 0 || content == "" {
		return ""
	}
	lower := strings.ToLower(content)
	for _, r := range rules {
		for _, k := range r.keywords {
			if containsWord(lower, k) {
				return r.topic
			}
		}
	}

	return ""
}

// containsWord reports whether word occurs in text with no letter, digit
// or combining mark touching it on either side.
func containsWord(text, word string) bool {
	for from := 0; from+len(word) <= len(text); {
		i := strings.Index(text[from:], word)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(word)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if (start == 0 || !isWordRune(before)) && (end == len(text) || !isWordRune(after)) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		from = start + size
	}

	return false
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// applyContentPolicy records the content's length in Unicode characters
// when the event does not say it, then drops the content unless the
// product tracks it.
func applyContentPolicy(props map[string]any, trackContent bool) {
	v, ok := props[propContent]
	if !ok {
		return
	}
	if s, isStr := v.(string); isStr {
		if _, has := props[propContentLength]; !has {
			props[propContentLength] = int64(utf8.RuneCountInString(s))
		}
	}
	if !trackContent {
		delete(props, propContent)
	}
}
