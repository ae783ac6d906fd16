package agentpulseexporter

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/agentpulse/agentpulse/exporter/agentpulseexporter/internal/metadata"
	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor"
)

// fixtureDir holds the shared OTLP/JSON fixtures; they are read in place and
// not shipped with the repository.
const fixtureDir = "../../../shared/fixtures/otlp"

const fixtureProduct = "fixture-bot"

// tracesPipeline is the agentpulse processor in front of the agentpulse
// exporter, as in a collector's traces pipeline.
func tracesPipeline(t *testing.T, cfg *Config) processor.Traces {
	t.Helper()
	exp, err := NewFactory().CreateTraces(t.Context(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })

	pf := agentpulseprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*agentpulseprocessor.Config)
	pcfg.TracesProductID = fixtureProduct
	proc, err := pf.CreateTraces(t.Context(), processortest.NewNopSettings(pf.Type()), pcfg, exp)
	require.NoError(t, err)
	require.NoError(t, proc.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, proc.Shutdown(context.Background())) })
	return proc
}

// fixtureSpec says where one convention keeps what the test reads.
type fixtureSpec struct {
	file                  string
	model, input, output  string // span attribute keys
	cached                string // "" when the convention reports none
	reportedCost          string // the cost attribute, when the span reports its own cost
	toolKey, toolValue    string // the attribute that marks a tool span
	sessionKey, userKey   string // "" when the spans name none
	userMessages          int64  // message.user events in the fixture's conversation
	unpriced              bool   // the model has no price
	sessionsFromTraceUser bool   // no session or user: the trace is the user
}

var fixtureSpecs = []fixtureSpec{
	{
		file:  "otel-genai-semconv-example-chat-tool-call.json",
		model: "gen_ai.response.model", input: "gen_ai.usage.input_tokens", output: "gen_ai.usage.output_tokens",
		toolKey: "gen_ai.operation.name", toolValue: "execute_tool",
		// "Weather in Paris?"; the second request ends with the tool result.
		userMessages: 1, sessionsFromTraceUser: true,
	},
	{
		file:  "openinference-js-openai-chat-cached-tokens.json",
		model: "llm.model_name", input: "llm.token_count.prompt", output: "llm.token_count.completion",
		cached:  "llm.token_count.prompt_details.cache_read",
		toolKey: "openinference.span.kind", toolValue: "TOOL",
		userMessages: 1, sessionsFromTraceUser: true,
	},
	{
		file:  "openinference-js-openai-runtools-tool-calls.json",
		model: "llm.model_name", input: "llm.token_count.prompt", output: "llm.token_count.completion",
		toolKey: "openinference.span.kind", toolValue: "TOOL",
		userMessages: 1, sessionsFromTraceUser: true,
	},
	{
		file:  "openinference-phoenix-pxi-agent-turn-llm-tool-loop.json",
		model: "llm.model_name", input: "llm.token_count.prompt", output: "llm.token_count.completion",
		cached:  "llm.token_count.prompt_details.cache_read",
		toolKey: "openinference.span.kind", toolValue: "TOOL",
		sessionKey: "session.id", userKey: "user.id",
		userMessages: 1, unpriced: true,
	},
	{
		file:  "openlit-openai-chat-v1.27-cost-content-events.json",
		model: "gen_ai.request.model", input: "gen_ai.usage.input_tokens", output: "gen_ai.usage.output_tokens",
		reportedCost: "gen_ai.usage.cost",
		toolKey:      "gen_ai.operation.name", toolValue: "execute_tool",
		userMessages: 1, sessionsFromTraceUser: true,
	},
}

// expected is what the store should hold for one fixture, read from its
// span attributes and the price table.
type expected struct {
	session, user                 string
	llmCalls, toolCalls, unpriced int64
	input, output, cached         int64
	cost                          float64
}

func intAttr(t *testing.T, attrs pcommon.Map, key string) int64 {
	t.Helper()
	v, ok := attrs.Get(key)
	require.True(t, ok, key)
	n, err := strconv.ParseInt(v.AsString(), 10, 64)
	require.NoError(t, err, key)
	return n
}

func expect(t *testing.T, spec fixtureSpec, td ptrace.Traces) expected {
	t.Helper()
	prices := pricing.Default()
	var want expected
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				a := sp.Attributes()
				if v, ok := a.Get(spec.toolKey); ok && v.AsString() == spec.toolValue {
					want.toolCalls++
				}
				if spec.sessionKey != "" && want.session == "" {
					if v, ok := a.Get(spec.sessionKey); ok {
						want.session = v.AsString()
					}
				}
				if spec.userKey != "" && want.user == "" {
					if v, ok := a.Get(spec.userKey); ok {
						want.user = v.AsString()
					}
				}
				if spec.sessionsFromTraceUser {
					want.user = "anonymous:" + sp.TraceID().String()
				}
				if _, ok := a.Get(spec.input); !ok {
					continue
				}
				want.llmCalls++
				in, out := intAttr(t, a, spec.input), intAttr(t, a, spec.output)
				var cached int64
				if spec.cached != "" {
					cached = intAttr(t, a, spec.cached)
				}
				want.input += in
				want.output += out
				want.cached += cached

				switch model, _ := a.Get(spec.model); {
				case spec.reportedCost != "":
					c, _ := a.Get(spec.reportedCost)
					want.cost += c.Double()
				case spec.unpriced:
					_, ok := prices.Lookup(model.Str())
					require.False(t, ok, "%s has a price now: update the test", model.Str())
					want.unpriced++
				default:
					p, ok := prices.Lookup(model.Str())
					require.True(t, ok, model.Str())
					want.cost += (float64(in-cached)*p.Input + float64(cached)*p.CachedInput + float64(out)*p.Output) / 1e6
				}
			}
		}
	}
	return want
}

// num reads a stored numeric property.
func num(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int64:
		return n
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

// Fixtures of several conventions go through the processor and the
// exporter into the embedded store; the sessions, token totals and costs
// read back through the query interface are the ones the spans say.
func TestTracesFixturesStored(t *testing.T) {
	if _, err := os.Stat(fixtureDir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("OTLP fixtures not found at %s: they live in the shared folder next to the repository and are not shipped with it", fixtureDir)
	}
	for _, spec := range fixtureSpecs {
		t.Run(spec.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(fixtureDir, spec.file))
			require.NoError(t, err)
			td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
			require.NoError(t, err)
			want := expect(t, spec, td)

			cfg := testConfig(t)
			require.NoError(t, tracesPipeline(t, cfg).ConsumeTraces(t.Context(), td))

			s := reader(t, cfg)
			list, total, err := s.Sessions(t.Context(), analytics.Filter{ProductID: fixtureProduct}, analytics.Options{}, 10, 0)
			require.NoError(t, err)
			require.Equal(t, int64(1), total, "one conversation")
			sum := list[0]
			if want.session != "" {
				assert.Equal(t, want.session, sum.SessionID)
			}
			assert.Equal(t, want.user, sum.UserID)
			assert.Equal(t, want.llmCalls, sum.LLMCalls)
			assert.Equal(t, want.toolCalls, sum.ToolCalls)
			assert.Equal(t, want.unpriced, sum.UnpricedLLMCalls)
			assert.Equal(t, spec.userMessages, sum.ConversationDepth)
			assert.InDelta(t, want.cost, sum.TotalCostUSD, 1e-12)

			_, events, found, err := s.Session(t.Context(), fixtureProduct, sum.SessionID, analytics.Options{})
			require.NoError(t, err)
			require.True(t, found)
			var in, out, cached int64
			for _, e := range events {
				switch e.EventType {
				case event.TypeLLMCall:
					in += num(e.Properties["input_tokens"])
					out += num(e.Properties["output_tokens"])
					cached += num(e.Properties["cached_input_tokens"])
				case event.TypeMessageUser, event.TypeMessageAgent:
					// The product does not track content: its length only.
					assert.NotContains(t, e.Properties, "content")
					assert.Positive(t, num(e.Properties["content_length"]))
				}
			}
			assert.Equal(t, want.input, in)
			assert.Equal(t, want.output, out)
			assert.Equal(t, want.cached, cached)

			econ, err := s.Economics(t.Context(), analytics.Filter{ProductID: fixtureProduct}, analytics.Options{})
			require.NoError(t, err)
			assert.InDelta(t, want.cost, econ.LLMCostUSD, 1e-12)
			assert.Equal(t, want.unpriced, econ.UnpricedLLMCalls)
		})
	}
}

// Spans that reach the exporter without a product (no agentpulse processor
// before it) are skipped and counted; nothing is stored.
func TestTracesWithoutProductAreSkipped(t *testing.T) {
	cfg := testConfig(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { assert.NoError(t, tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := NewFactory().CreateTraces(t.Context(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })

	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range 3 {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{15: 1})
		sp.SetSpanID(pcommon.SpanID{7: byte(i + 1)})
		sp.Attributes().PutStr("gen_ai.operation.name", "chat")
		sp.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
		sp.Attributes().PutStr("gen_ai.conversation.id", "c1")
	}
	require.NoError(t, exp.ConsumeTraces(t.Context(), td))

	m, err := tel.GetMetric(metricSpansWithoutProduct)
	require.NoError(t, err)
	sum := m.Data.(metricdata.Sum[int64])
	require.Len(t, sum.DataPoints, 1)
	assert.Equal(t, int64(3), sum.DataPoints[0].Value)

	_, total, err := reader(t, cfg).Sessions(t.Context(), analytics.Filter{}, analytics.Options{}, 10, 0)
	require.NoError(t, err)
	assert.Zero(t, total)
}
