package genai

import (
	"maps"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// callProps maps one model span with attrs (plus the operation name unless
// attrs names a kind) and returns its call event's properties.
func callProps(t *testing.T, attrs map[string]any) map[string]any {
	t.Helper()
	a := maps.Clone(attrs)
	if _, ok := a["openinference.span.kind"]; !ok {
		if _, ok := a["ai.operationId"]; !ok {
			a["gen_ai.operation.name"] = "chat"
		}
	}
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, a)
	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Empty(t, errs)
	for _, m := range out {
		if m.Call {
			return m.Event.Properties
		}
	}
	require.Fail(t, "no call event")
	return nil
}

// tokens keeps the token properties of a call.
func tokens(props map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens"} {
		if v, ok := props[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestTokenNamesOldAndNew(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  map[string]any
	}{
		{"otel current", map[string]any{
			"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
			"gen_ai.usage.cache_read.input_tokens": 30, "gen_ai.usage.cache_creation.input_tokens": 10,
			"gen_ai.usage.reasoning.output_tokens": 5,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20), "cached_input_tokens": int64(30),
			"cache_creation_input_tokens": int64(10), "reasoning_tokens": int64(5)}},
		{"otel before 1.27", map[string]any{
			"gen_ai.system": "openai", "gen_ai.usage.prompt_tokens": 100, "gen_ai.usage.completion_tokens": 20,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20)}},
		{"otel genai utils cache_write name", map[string]any{
			"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
			"gen_ai.usage.cache_read.input_tokens": 30, "gen_ai.usage.cache_write.input_tokens": 10,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20), "cached_input_tokens": int64(30),
			"cache_creation_input_tokens": int64(10)}},
		{"openllmetry cache and reasoning names", map[string]any{
			"gen_ai.system": "openai", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
			"gen_ai.usage.cache_read_input_tokens": 30, "gen_ai.usage.cache_creation_input_tokens": 10,
			"llm.usage.reasoning_tokens": 5,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20), "cached_input_tokens": int64(30),
			"cache_creation_input_tokens": int64(10), "reasoning_tokens": int64(5)}},
		{"openinference", map[string]any{
			"openinference.span.kind": "LLM", "llm.provider": "openai",
			"llm.token_count.prompt": 100, "llm.token_count.completion": 20,
			"llm.token_count.prompt_details.cache_read": 30, "llm.token_count.completion_details.reasoning": 5,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20), "cached_input_tokens": int64(30),
			"reasoning_tokens": int64(5)}},
		{"vercel ai sdk v4", map[string]any{
			"ai.operationId": "ai.generateText.doGenerate", "ai.usage.promptTokens": 100, "ai.usage.completionTokens": 20,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20)}},
		{"vercel ai sdk v5", map[string]any{
			"ai.operationId": "ai.streamText.doStream", "ai.model.provider": "openai.responses",
			"ai.usage.inputTokens": 100, "ai.usage.outputTokens": 20, "ai.usage.cachedInputTokens": 30,
			"ai.usage.reasoningTokens": 5,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20), "cached_input_tokens": int64(30),
			"reasoning_tokens": int64(5)}},
		{"current name wins over the deprecated one", map[string]any{
			"gen_ai.usage.input_tokens": 100, "gen_ai.usage.prompt_tokens": 999,
			"gen_ai.usage.output_tokens": 20, "gen_ai.usage.completion_tokens": 999,
		}, map[string]any{"input_tokens": int64(100), "output_tokens": int64(20)}},
		{"string and integral double counts", map[string]any{
			"gen_ai.usage.input_tokens": "174", "gen_ai.usage.output_tokens": 31.0,
		}, map[string]any{"input_tokens": int64(174), "output_tokens": int64(31)}},
		{"negative, fractional and non-numeric counts are absent", map[string]any{
			"gen_ai.usage.input_tokens": -5, "gen_ai.usage.output_tokens": "many", "gen_ai.usage.cache_read.input_tokens": 1.5,
		}, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tokens(callProps(t, tc.attrs)))
		})
	}
}

func TestAnthropicCacheTokens(t *testing.T) {
	// Anthropic's usage: input_tokens 5000 uncached, cache reads 1000,
	// cache writes 200, output 50. Inclusive input = 5000 + 1000 + 200.
	const in, read, write, out = 5000, 1000, 200, 50
	for _, tc := range []struct {
		name   string
		attrs  map[string]any
		wantIn int64
	}{
		{"anthropic with pre-1.40 names: cache added", map[string]any{
			"gen_ai.system": "anthropic", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read_input_tokens": read, "gen_ai.usage.cache_creation_input_tokens": write,
		}, in + read + write},
		{"same counts from openai: already inclusive", map[string]any{
			"gen_ai.system": "openai", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read_input_tokens": read, "gen_ai.usage.cache_creation_input_tokens": write,
		}, in},
		{"anthropic, total equals input + output: inclusive", map[string]any{
			"gen_ai.system": "Anthropic", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read_input_tokens": read, "gen_ai.usage.cache_creation_input_tokens": write,
			"llm.usage.total_tokens": in + out,
		}, in},
		{"anthropic, total equals input + cache + output: exclusive", map[string]any{
			"gen_ai.system": "anthropic", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read_input_tokens": read, "gen_ai.usage.cache_creation_input_tokens": write,
			"llm.usage.total_tokens": in + read + write + out,
		}, in + read + write},
		{"anthropic with OTel 1.40 names: the spec says inclusive", map[string]any{
			"gen_ai.provider.name": "anthropic", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read.input_tokens": read, "gen_ai.usage.cache_creation.input_tokens": write,
		}, in},
		{"anthropic with the genai utils' cache_write name: inclusive", map[string]any{
			"gen_ai.provider.name": "anthropic", "gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read.input_tokens": read, "gen_ai.usage.cache_write.input_tokens": write,
		}, in},
		{"anthropic through OpenInference: inclusive", map[string]any{
			"openinference.span.kind": "LLM", "llm.provider": "anthropic",
			"llm.token_count.prompt": in, "llm.token_count.completion": out,
			"llm.token_count.prompt_details.cache_read": read, "llm.token_count.prompt_details.cache_write": write,
		}, in},
		{"claude on bedrock: anthropic's shape", map[string]any{
			"gen_ai.system": "aws.bedrock", "gen_ai.request.model": "us.anthropic.claude-sonnet-4-20250514-v1:0",
			"gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read_input_tokens": read, "gen_ai.usage.cache_creation_input_tokens": write,
		}, in + read + write},
		{"input smaller than its cache parts cannot include them", map[string]any{
			"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": out,
			"gen_ai.usage.cache_read.input_tokens": read, "gen_ai.usage.cache_creation.input_tokens": write,
		}, 10 + read + write},
		{"vercel v5 anthropic: cachedInputTokens apart", map[string]any{
			"ai.operationId": "ai.generateText.doGenerate", "ai.model.provider": "anthropic.messages",
			"ai.usage.inputTokens": in, "ai.usage.outputTokens": out, "ai.usage.cachedInputTokens": read,
		}, in + read},
		{"vercel noCacheTokens equal to input: exclusive", map[string]any{
			"ai.operationId": "ai.generateText.doGenerate", "ai.model.provider": "anthropic.messages",
			"ai.usage.inputTokens": in, "ai.usage.outputTokens": out,
			"ai.usage.inputTokenDetails.noCacheTokens": in, "ai.usage.inputTokenDetails.cacheReadTokens": read,
			"ai.usage.inputTokenDetails.cacheWriteTokens": write,
		}, in + read + write},
		{"vercel noCacheTokens + cache equal to input: inclusive", map[string]any{
			"ai.operationId": "ai.generateText.doGenerate", "ai.model.provider": "anthropic.messages",
			"ai.usage.inputTokens": in, "ai.usage.outputTokens": out,
			"ai.usage.inputTokenDetails.noCacheTokens": in - read - write, "ai.usage.inputTokenDetails.cacheReadTokens": read,
			"ai.usage.inputTokenDetails.cacheWriteTokens": write,
		}, in},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tokens(callProps(t, tc.attrs))
			assert.Equal(t, tc.wantIn, got["input_tokens"])
			assert.Equal(t, int64(out), got["output_tokens"])
			assert.Equal(t, int64(read), got["cached_input_tokens"])
		})
	}
}

func TestReasoningTokens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attrs   map[string]any
		wantOut int64
	}{
		{"output smaller than reasoning: added", map[string]any{
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.reasoning.output_tokens": 50,
		}, 20 + 50},
		{"total counts reasoning apart: added", map[string]any{
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.reasoning.output_tokens": 5,
			"gen_ai.usage.total_tokens": 10 + 20 + 5,
		}, 20 + 5},
		{"total counts reasoning inside: kept", map[string]any{
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.reasoning.output_tokens": 5,
			"gen_ai.usage.total_tokens": 10 + 20,
		}, 20},
		{"no total: the spec's inclusive output", map[string]any{
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.reasoning.output_tokens": 5,
		}, 20},
		{"reasoning only", map[string]any{
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.reasoning.output_tokens": 5,
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tokens(callProps(t, tc.attrs))
			assert.Equal(t, tc.wantOut, got["output_tokens"])
		})
	}
}

func TestLangfuseUsageDetails(t *testing.T) {
	// Langfuse buckets are disjoint: their sum is the total.
	got := tokens(callProps(t, map[string]any{
		"langfuse.observation.type":          "generation",
		"langfuse.observation.usage_details": `{"input": 100, "output": 20, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 50, "output_reasoning_tokens": 7, "total": 477}`,
	}))
	assert.Equal(t, map[string]any{
		"input_tokens": int64(100 + 300 + 50), "cached_input_tokens": int64(300), "cache_creation_input_tokens": int64(50),
		"output_tokens": int64(20 + 7), "reasoning_tokens": int64(7),
	}, got)

	// OpenAI's usage object, already inclusive.
	got = tokens(callProps(t, map[string]any{
		"langfuse.observation.type":          "generation",
		"langfuse.observation.usage_details": `{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "prompt_tokens_details": {"cached_tokens": 30}, "completion_tokens_details": {"reasoning_tokens": 5}}`,
	}))
	assert.Equal(t, map[string]any{
		"input_tokens": int64(100), "cached_input_tokens": int64(30), "output_tokens": int64(20), "reasoning_tokens": int64(5),
	}, got)
}

func TestReportedCost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  any // nil: no cost_usd
	}{
		{"openlit", map[string]any{"gen_ai.usage.cost": 0.000151}, 0.000151},
		{"litellm", map[string]any{"gen_ai.cost.total_cost": 0.25}, 0.25},
		{"openinference", map[string]any{"openinference.span.kind": "LLM", "llm.cost.total": "0.5"}, 0.5},
		{"langfuse total", map[string]any{"langfuse.observation.type": "generation",
			"langfuse.observation.cost_details": `{"input": 0.1, "output": 0.2, "total": 0.25}`}, 0.25},
		{"negative cost is no cost", map[string]any{"gen_ai.usage.cost": -1.0}, nil},
		{"NaN is no cost", map[string]any{"gen_ai.usage.cost": math.NaN()}, nil},
		{"none", map[string]any{"gen_ai.usage.input_tokens": 5}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := callProps(t, tc.attrs)
			if tc.want == nil {
				assert.NotContains(t, props, "cost_usd")
				return
			}
			assert.Equal(t, tc.want, props["cost_usd"])
		})
	}
}

func TestModelAndProvider(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  map[string]any
	}{
		{"response model wins", map[string]any{"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"},
			map[string]any{"model": "gpt-4o-2024-08-06", "request_model": "gpt-4o"}},
		{"request model only", map[string]any{"gen_ai.request.model": "gpt-4o"},
			map[string]any{"model": "gpt-4o", "request_model": "gpt-4o"}},
		{"provider name over system, lower case", map[string]any{"gen_ai.provider.name": "OpenAI", "gen_ai.system": "other"},
			map[string]any{"provider": "openai"}},
		{"semconv provider with a dot stays", map[string]any{"gen_ai.provider.name": "aws.bedrock"},
			map[string]any{"provider": "aws.bedrock"}},
		{"vercel provider without its api", map[string]any{"ai.operationId": "ai.streamText.doStream",
			"ai.model.provider": "openai.chat", "gen_ai.system": "openai.chat", "ai.model.id": "gpt-4o-mini"},
			map[string]any{"provider": "openai", "model": "gpt-4o-mini", "request_model": "gpt-4o-mini"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := callProps(t, tc.attrs)
			for k, v := range tc.want {
				assert.Equal(t, v, props[k], k)
			}
		})
	}
}
