package genai

import (
	"maps"
	"math"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

type tokenField uint8

const (
	fieldInput tokenField = iota
	fieldOutput
	fieldCacheRead
	fieldCacheWrite
	fieldReasoning
	fieldTotal
	fieldNoCache // Vercel AI SDK: input tokens neither read from nor written to a cache
	numFields
)

// tokenKey is one attribute name of a token count. inclusive marks the
// conventions whose specification counts cache reads and writes inside the
// input count.
type tokenKey struct {
	name      string
	field     tokenField
	inclusive bool
}

// tokenKeys lists every name in precedence order: the first present name of
// a field wins (OTel current, OTel deprecated, OpenLLMetry, OpenInference,
// Vercel AI SDK).
var tokenKeys = []tokenKey{
	{"gen_ai.usage.input_tokens", fieldInput, false},
	{"gen_ai.usage.prompt_tokens", fieldInput, false},
	{"llm.token_count.prompt", fieldInput, true},
	{"ai.usage.inputTokens", fieldInput, false},
	{"ai.usage.promptTokens", fieldInput, false},

	{"gen_ai.usage.output_tokens", fieldOutput, false},
	{"gen_ai.usage.completion_tokens", fieldOutput, false},
	{"llm.token_count.completion", fieldOutput, false},
	{"ai.usage.outputTokens", fieldOutput, false},
	{"ai.usage.completionTokens", fieldOutput, false},

	{"gen_ai.usage.cache_read.input_tokens", fieldCacheRead, true},
	{"gen_ai.usage.cache_read_input_tokens", fieldCacheRead, false},
	{"llm.token_count.prompt_details.cache_read", fieldCacheRead, true},
	{"ai.usage.inputTokenDetails.cacheReadTokens", fieldCacheRead, true},
	{"ai.usage.cachedInputTokens", fieldCacheRead, false},

	{"gen_ai.usage.cache_creation.input_tokens", fieldCacheWrite, true},
	{"gen_ai.usage.cache_write.input_tokens", fieldCacheWrite, true}, // opentelemetry-util-genai 1.2+
	{"gen_ai.usage.cache_creation_input_tokens", fieldCacheWrite, false},
	{"llm.token_count.prompt_details.cache_write", fieldCacheWrite, true},
	{"ai.usage.inputTokenDetails.cacheWriteTokens", fieldCacheWrite, true},

	{"gen_ai.usage.reasoning.output_tokens", fieldReasoning, false},
	{"gen_ai.usage.reasoning_tokens", fieldReasoning, false},
	{"llm.usage.reasoning_tokens", fieldReasoning, false},
	{"llm.token_count.completion_details.reasoning", fieldReasoning, false},
	{"ai.usage.outputTokenDetails.reasoningTokens", fieldReasoning, false},
	{"ai.usage.reasoningTokens", fieldReasoning, false},

	{"gen_ai.usage.total_tokens", fieldTotal, false},
	{"llm.usage.total_tokens", fieldTotal, false},
	{"llm.token_count.total", fieldTotal, false},
	{"ai.usage.totalTokens", fieldTotal, false},

	{"ai.usage.inputTokenDetails.noCacheTokens", fieldNoCache, false},
}

// agentsUsageKeys reads the OpenAI Agents SDK "usage" JSON attribute that
// Logfire puts on its spans (paths into the object).
var agentsUsageKeys = []struct {
	path  []string
	field tokenField
}{
	{[]string{"input_tokens"}, fieldInput},
	{[]string{"output_tokens"}, fieldOutput},
	{[]string{"input_tokens_details", "cached_tokens"}, fieldCacheRead},
	{[]string{"cached_input_tokens"}, fieldCacheRead},
	{[]string{"input_tokens_details", "cache_write_tokens"}, fieldCacheWrite},
	{[]string{"cache_write_input_tokens"}, fieldCacheWrite},
	{[]string{"output_tokens_details", "reasoning_tokens"}, fieldReasoning},
	{[]string{"total_tokens"}, fieldTotal},
}

// rawUsage is the token counts as a span reports them.
type rawUsage struct {
	n         [numFields]int64
	has       [numFields]bool
	inclusive bool // a convention that defines input as including cache counts supplied them
}

func (u *rawUsage) set(f tokenField, n int64) {
	if !u.has[f] {
		u.n[f], u.has[f] = n, true
	}
}

// tokenUsage is an LLM call's token counts normalized to the API contract:
// Input includes cached and cache-creation tokens, Output includes reasoning
// tokens. A Has* flag is false when the span did not report that count.
type tokenUsage struct {
	Input, Output, CachedInput, CacheCreation, Reasoning int64

	HasInput, HasOutput, HasCachedInput, HasCacheCreation, HasReasoning bool
}

// readUsage collects the raw counts of a span from every naming convention.
func readUsage(m pcommon.Map) rawUsage {
	var u rawUsage
	for _, k := range tokenKeys {
		if u.has[k.field] {
			continue
		}
		if v, ok := m.Get(k.name); ok {
			if n, ok := count(v); ok {
				u.set(k.field, n)
				u.inclusive = u.inclusive || k.inclusive
			}
		}
	}
	if x, ok := structured(m, "usage"); ok {
		if obj, ok := x.(map[string]any); ok {
			for _, k := range agentsUsageKeys {
				if n, ok := anyCount(lookupPath(obj, k.path)); ok {
					u.set(k.field, n)
				}
			}
		}
	}
	return u
}

func lookupPath(obj map[string]any, path []string) any {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// normalize turns raw counts into the contract's inclusive counts.
//
// Whether a reported input count already includes cache reads and writes is
// decided from the data first, then from the convention:
//   - input smaller than its cache parts cannot include them;
//   - the Vercel AI SDK's noCacheTokens equal to the input means it excludes them;
//   - a reported total equal to input+cache+output means exclusive, equal to
//     input+output means inclusive;
//   - otherwise Anthropic counts (provider anthropic, or a Claude model) are
//     taken as Anthropic's API reports them, cache apart from input, unless
//     the names come from a convention that defines input as inclusive
//     (OpenInference llm.token_count.*, OTel gen_ai.usage.cache_*.input_tokens,
//     Vercel inputTokenDetails); all other providers already include them.
//
// Reasoning tokens are added to the output only when the output is smaller
// than them or the total says so.
func (u rawUsage) normalize(anthropic bool) tokenUsage {
	in, out := u.n[fieldInput], u.n[fieldOutput]
	read, write, reason := u.n[fieldCacheRead], u.n[fieldCacheWrite], u.n[fieldReasoning]
	cache := addSat(read, write)
	res := tokenUsage{
		CachedInput: read, HasCachedInput: u.has[fieldCacheRead],
		CacheCreation: write, HasCacheCreation: u.has[fieldCacheWrite],
		Reasoning: reason, HasReasoning: u.has[fieldReasoning],
		HasInput: u.has[fieldInput], HasOutput: u.has[fieldOutput],
	}

	switch {
	case !u.has[fieldInput]:
		if cache > 0 {
			in, res.HasInput = cache, true
		}
	case cache > 0 && u.inputExcludesCache(anthropic):
		in = addSat(in, cache)
	}
	res.Input = in

	if u.has[fieldReasoning] {
		switch {
		case !u.has[fieldOutput]:
			out, res.HasOutput = reason, true
		case out < reason:
			out = addSat(out, reason)
		case reason > 0 && u.has[fieldTotal] && u.n[fieldTotal] == addSat(addSat(in, out), reason) &&
			u.n[fieldTotal] != addSat(in, out):
			out = addSat(out, reason)
		}
	}
	res.Output = out

	return res
}

func (u rawUsage) inputExcludesCache(anthropic bool) bool {
	in, out := u.n[fieldInput], u.n[fieldOutput]
	cache := addSat(u.n[fieldCacheRead], u.n[fieldCacheWrite])
	if in < cache {
		return true
	}
	if u.has[fieldNoCache] {
		if nc := u.n[fieldNoCache]; nc == in {
			return true
		} else if addSat(nc, cache) == in {
			return false
		}
	}
	if u.has[fieldTotal] && u.has[fieldOutput] {
		t, reason := u.n[fieldTotal], u.n[fieldReasoning]
		exclusive := t == addSat(addSat(in, cache), out) || t == addSat(addSat(addSat(in, cache), out), reason)
		inclusive := t == addSat(in, out) || t == addSat(addSat(in, out), reason)
		if exclusive != inclusive {
			return exclusive
		}
	}
	return anthropic && !u.inclusive
}

// isAnthropic reports whether token counts follow Anthropic's API shape:
// the provider says so, or the model is a Claude model (also when served
// by Bedrock or Vertex, which report usage the same way).
func isAnthropic(provider, model, requestModel string) bool {
	return strings.Contains(provider, "anthropic") ||
		strings.Contains(strings.ToLower(model), "claude") ||
		strings.Contains(strings.ToLower(requestModel), "claude")
}

// langfuseUsage reads langfuse.observation.usage_details. Flat keys are
// Langfuse's disjoint buckets (input, output, cache_read_input_tokens, ...)
// whose sum is the total, so every input-side bucket is added to the input;
// OpenAI-shaped objects with *_details are already inclusive.
func langfuseUsage(m pcommon.Map) (tokenUsage, bool) {
	x, ok := structured(m, "langfuse.observation.usage_details")
	if !ok {
		return tokenUsage{}, false
	}
	obj, ok := x.(map[string]any)
	if !ok || len(obj) == 0 {
		return tokenUsage{}, false
	}
	if _, nested := obj["prompt_tokens_details"]; nested || obj["input_tokens_details"] != nil ||
		obj["completion_tokens_details"] != nil || obj["output_tokens_details"] != nil {
		var u rawUsage
		u.inclusive = true
		for _, k := range []struct {
			path  []string
			field tokenField
		}{
			{[]string{"prompt_tokens"}, fieldInput},
			{[]string{"input_tokens"}, fieldInput},
			{[]string{"completion_tokens"}, fieldOutput},
			{[]string{"output_tokens"}, fieldOutput},
			{[]string{"prompt_tokens_details", "cached_tokens"}, fieldCacheRead},
			{[]string{"input_tokens_details", "cached_tokens"}, fieldCacheRead},
			{[]string{"completion_tokens_details", "reasoning_tokens"}, fieldReasoning},
			{[]string{"output_tokens_details", "reasoning_tokens"}, fieldReasoning},
			{[]string{"total_tokens"}, fieldTotal},
		} {
			if n, ok := anyCount(lookupPath(obj, k.path)); ok {
				u.set(k.field, n)
			}
		}
		return u.normalize(false), true
	}

	var res tokenUsage
	for k, v := range obj {
		n, ok := anyCount(v)
		if !ok {
			continue
		}
		key := strings.ToLower(k)
		switch {
		case strings.HasPrefix(key, "total"):
			continue
		case strings.Contains(key, "cache_read") || strings.Contains(key, "cached"):
			res.CachedInput, res.HasCachedInput = addSat(res.CachedInput, n), true
			res.Input, res.HasInput = addSat(res.Input, n), true
		case strings.Contains(key, "cache_creation") || strings.Contains(key, "cache_write"):
			res.CacheCreation, res.HasCacheCreation = addSat(res.CacheCreation, n), true
			res.Input, res.HasInput = addSat(res.Input, n), true
		case strings.Contains(key, "reasoning"):
			res.Reasoning, res.HasReasoning = addSat(res.Reasoning, n), true
			res.Output, res.HasOutput = addSat(res.Output, n), true
		case strings.Contains(key, "input") || strings.Contains(key, "prompt"):
			res.Input, res.HasInput = addSat(res.Input, n), true
		case strings.Contains(key, "output") || strings.Contains(key, "completion"):
			res.Output, res.HasOutput = addSat(res.Output, n), true
		}
	}
	return res, res.HasInput || res.HasOutput
}

// costKeys are the conventions that report a call's cost in US dollars.
var costKeys = []string{
	"gen_ai.usage.cost",      // OpenLIT
	"gen_ai.cost.total_cost", // LiteLLM
	"llm.cost.total",         // OpenInference
}

// reportedCost returns the cost the span reports, if any.
func reportedCost(m pcommon.Map) (float64, bool) {
	for _, k := range costKeys {
		if v, ok := m.Get(k); ok {
			if f, ok := number(v); ok && f >= 0 {
				return f, true
			}
		}
	}
	x, ok := structured(m, "langfuse.observation.cost_details")
	if !ok {
		return 0, false
	}
	obj, ok := x.(map[string]any)
	if !ok {
		return 0, false
	}
	if f, ok := anyNumber(obj["total"]); ok && f >= 0 {
		return f, true
	}
	// Summed in key order, so that the float result does not depend on map order.
	sum, found := 0.0, false
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if f, ok := anyNumber(obj[k]); ok && f >= 0 && !strings.HasPrefix(strings.ToLower(k), "total") {
			sum += f
			found = true
		}
	}
	if !found || math.IsInf(sum, 0) {
		return 0, false
	}
	return sum, true
}
