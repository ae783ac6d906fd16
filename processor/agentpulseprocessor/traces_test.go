package agentpulseprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
	"github.com/agentpulse/agentpulse/internal/pricing"
	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor/internal/metadata"
)

// tracesHarness runs the traces processor built by the factory into a
// sink, with real internal telemetry.
type tracesHarness struct {
	proc processor.Traces
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
}

func newTracesHarness(t *testing.T, cfg *Config) *tracesHarness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &tracesHarness{sink: new(consumertest.TracesSink), tel: componenttest.NewTelemetry()}
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()

	var err error
	h.proc, err = NewFactory().CreateTraces(t.Context(), set, cfg, h.sink)
	require.NoError(t, err)
	require.NoError(t, h.proc.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, h.proc.Shutdown(context.Background()))
		assert.NoError(t, h.tel.Shutdown(context.Background()))
	})

	return h
}

// spanSpec describes one span of a test trace.
type spanSpec struct {
	id, parent byte
	start, end time.Time
	attrs      map[string]any
	events     []spanEventSpec
}

type spanEventSpec struct {
	name  string
	at    time.Time
	attrs map[string]any
}

// buildTraces puts the spans of one trace (trace id {15: trace}) under one
// resource with the given attributes.
func buildTraces(t *testing.T, trace byte, resource map[string]any, spans ...spanSpec) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	require.NoError(t, rs.Resource().Attributes().FromRaw(resource))
	ss := rs.ScopeSpans().AppendEmpty()
	for _, s := range spans {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{15: trace})
		sp.SetSpanID(pcommon.SpanID{7: s.id})
		if s.parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{7: s.parent})
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.end))
		require.NoError(t, sp.Attributes().FromRaw(s.attrs))
		for _, e := range s.events {
			se := sp.Events().AppendEmpty()
			se.SetName(e.name)
			se.SetTimestamp(pcommon.NewTimestampFromTime(e.at))
			require.NoError(t, se.Attributes().FromRaw(e.attrs))
		}
	}

	return td
}

// spansByID indexes every span the sink received by span id byte.
func spansByID(t *testing.T, sink *consumertest.TracesSink) map[byte]ptrace.Span {
	t.Helper()
	out := map[byte]ptrace.Span{}
	for _, td := range sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					id := sp.SpanID()
					out[id[7]] = sp
				}
			}
		}
	}

	return out
}

const (
	userText  = "I need help with my Divorce papers"
	agentText = "Sure, send me the documents."
	toolArgs  = `{"query":"divorce forms"}`
)

// turnSpans is one agent turn of user u-1: the agent run (1), a model call
// with a payment event (2) and a tool call (3), all with content.
func turnSpans(extraAgent map[string]any) []spanSpec {
	agent := map[string]any{
		"gen_ai.operation.name":       "invoke_agent",
		"user.id":                     "u-1",
		"agentpulse.metadata.channel": "web",
		"gen_ai.input.messages":       fmt.Sprintf(`[{"role":"user","content":%q}]`, userText),
		"gen_ai.output.messages":      fmt.Sprintf(`[{"role":"assistant","content":%q}]`, agentText),
	}
	for k, v := range extraAgent {
		agent[k] = v
	}
	return []spanSpec{
		{id: 1, start: t0, end: t0.Add(5 * time.Second), attrs: agent},
		{id: 2, parent: 1, start: t0.Add(time.Second), end: t0.Add(3 * time.Second), attrs: map[string]any{
			"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai",
			"gen_ai.usage.input_tokens": int64(1200), "gen_ai.usage.cache_read.input_tokens": int64(200),
			"gen_ai.usage.output_tokens": int64(300),
			"gen_ai.input.messages":      fmt.Sprintf(`[{"role":"user","content":%q}]`, userText),
			"gen_ai.output.messages":     fmt.Sprintf(`[{"role":"assistant","content":%q}]`, agentText),
		}, events: []spanEventSpec{
			{name: "gen_ai.content.prompt", at: t0.Add(time.Second), attrs: map[string]any{"gen_ai.prompt": userText}},
			{name: genai.EventPayment, at: t0.Add(2 * time.Second), attrs: map[string]any{
				genai.AttrPaymentAmount: 50.0, genai.AttrPaymentCurrency: "BRL",
			}},
		}},
		{id: 3, parent: 1, start: t0.Add(3 * time.Second), end: t0.Add(4 * time.Second), attrs: map[string]any{
			"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": toolArgs,
		}},
	}
}

func legalConfig(trackContent bool) *Config {
	cfg := createDefaultConfig()
	cfg.TracesProductID = "legal-bot"
	cfg.ExchangeRates = map[string]float64{"BRL": 0.18}
	cfg.Products = map[string]ProductConfig{"legal-bot": {
		TrackContent: trackContent,
		Topics:       []TopicRule{{Topic: "divorce", Keywords: []string{"divorce"}}},
	}}
	return cfg
}

func noteEvents(sp ptrace.Span, name string) []map[string]any {
	var out []map[string]any
	for _, ev := range sp.Events().All() {
		if ev.Name() == name {
			out = append(out, ev.Attributes().AsRaw())
		}
	}
	return out
}

func TestTracesPassedOnAnnotated(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("track_content=%v", keep), func(t *testing.T) {
			h := newTracesHarness(t, legalConfig(keep))
			td := buildTraces(t, 1, map[string]any{"service.name": "legal-assistant"}, turnSpans(nil)...)
			require.NoError(t, h.proc.ConsumeTraces(t.Context(), td))

			// Passed on, not swallowed: one payload with all three spans.
			require.Len(t, h.sink.AllTraces(), 1)
			out := h.sink.AllTraces()[0]
			assert.Equal(t, 3, out.SpanCount())
			res := out.ResourceSpans().At(0).Resource().Attributes().AsRaw()
			assert.Equal(t, "legal-bot", res[event.AttrProductID])
			assert.Equal(t, "legal-assistant", res["service.name"])

			// No session id in the payload: the user's session starts at the
			// user message, the agent span's start.
			session := wantID("legal-bot", "u-1", t0)
			spans := spansByID(t, h.sink)
			for id, sp := range spans {
				attrs := sp.Attributes().AsRaw()
				assert.Equal(t, session, attrs[event.AttrSessionID], "span %d", id)
				assert.Equal(t, "u-1", attrs[event.AttrUserID], "span %d", id)
			}

			// The model call: input 1200 of which 200 read from the cache.
			gpt4o, ok := pricing.Default().Lookup("gpt-4o")
			require.True(t, ok)
			cost := ((1200-200)*gpt4o.Input + 200*gpt4o.CachedInput + 300*gpt4o.Output) / 1e6
			llm := spans[2].Attributes().AsRaw()
			assert.Equal(t, event.TypeLLMCall, llm[event.AttrEventType])
			assert.InDelta(t, cost, llm[event.AttrCostUSD], 1e-12)
			assert.Equal(t, event.CostComputed, llm[event.AttrCostStatus])
			assert.Equal(t, "gpt-4o", llm["gen_ai.request.model"], "other attributes stay")
			assert.Equal(t, int64(1200), llm["gen_ai.usage.input_tokens"])

			// The tool has no price: its status only.
			tool := spans[3].Attributes().AsRaw()
			assert.Equal(t, event.TypeToolCall, tool[event.AttrEventType])
			assert.Equal(t, event.CostUnpriced, tool[event.AttrCostStatus])
			assert.NotContains(t, tool, event.AttrCostUSD)

			// The payment event is annotated with its dollar amount.
			pay := noteEvents(spans[2], genai.EventPayment)
			require.Len(t, pay, 1)
			assert.InDelta(t, 50*0.18, pay[0][event.AttrAmountUSD], 1e-12)
			assert.Equal(t, session, pay[0][event.AttrSessionID])

			// Messages are noted on the agent span with length and topic, never content.
			notes := noteEvents(spans[1], genai.EventMessage)
			require.Len(t, notes, 2)
			byType := map[string]map[string]any{}
			for _, n := range notes {
				byType[n[event.AttrEventType].(string)] = n
				assert.NotContains(t, n, "content")
			}
			assert.Equal(t, int64(len([]rune(userText))), byType[event.TypeMessageUser][genai.AttrContentLength])
			assert.Equal(t, "divorce", byType[event.TypeMessageUser][event.AttrTopic])
			assert.Equal(t, int64(len([]rune(agentText))), byType[event.TypeMessageAgent][genai.AttrContentLength])

			// Content on the spans themselves follows the product's policy.
			for _, c := range []struct {
				span byte
				key  string
			}{{1, "gen_ai.input.messages"}, {1, "gen_ai.output.messages"}, {2, "gen_ai.input.messages"}, {2, "gen_ai.output.messages"}, {3, "gen_ai.tool.call.arguments"}} {
				_, has := spans[c.span].Attributes().Get(c.key)
				assert.Equal(t, keep, has, "span %d %s", c.span, c.key)
			}
			assert.Len(t, noteEvents(spans[2], "gen_ai.content.prompt"), map[bool]int{true: 1, false: 0}[keep])
			if keep {
				v, _ := spans[3].Attributes().Get("gen_ai.tool.call.arguments")
				assert.Equal(t, toolArgs, v.Str())
			}
		})
	}
}

func TestTracesProduct(t *testing.T) {
	spans := []spanSpec{{id: 1, start: t0, end: t0.Add(time.Second), attrs: map[string]any{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "user.id": "u-9",
		"gen_ai.usage.input_tokens": int64(10),
	}}}
	keyCtx := auth.ContextWithPrincipal(context.Background(), auth.Principal{Scope: auth.ScopeProduct, Product: "key-bot"})

	tests := []struct {
		name     string
		ctx      context.Context
		resource map[string]any
		setting  string
		product  string // "" when none is known
	}{
		{"the key's product wins over the payload", keyCtx, map[string]any{event.AttrProductID: "payload-bot"}, "setting-bot", "key-bot"},
		{"the resource attribute", context.Background(), map[string]any{event.AttrProductID: "payload-bot"}, "setting-bot", "payload-bot"},
		{"traces_product_id", context.Background(), map[string]any{}, "setting-bot", "setting-bot"},
		{"none", context.Background(), map[string]any{"service.name": "x"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.TracesProductID = tt.setting
			h := newTracesHarness(t, cfg)
			td := buildTraces(t, 1, tt.resource, spans...)
			before := ptrace.NewTraces()
			td.CopyTo(before)
			require.NoError(t, h.proc.ConsumeTraces(tt.ctx, td))

			require.Len(t, h.sink.AllTraces(), 1)
			got := h.sink.AllTraces()[0]
			if tt.product == "" {
				assert.Equal(t, before, got, "spans without a product pass on untouched")
				assert.Equal(t, int64(1), counterValue(t, h.tel, metricSpansWithoutProduct))
				return
			}
			res := got.ResourceSpans().At(0).Resource().Attributes().AsRaw()
			assert.Equal(t, tt.product, res[event.AttrProductID])
			sp := spansByID(t, h.sink)[1].Attributes().AsRaw()
			assert.Equal(t, wantID(tt.product, "u-9", t0), sp[event.AttrSessionID])
		})
	}
}

func TestTracesEvictionBound(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.TracesProductID = "bot"
	cfg.MaxOpenSessions = 2
	h := newTracesHarness(t, cfg)

	users := []string{"a", "b", "c", "d", "e"}
	for i, u := range users {
		td := buildTraces(t, byte(i+1), nil, spanSpec{id: 1, start: t0, end: t0.Add(time.Second), attrs: map[string]any{
			"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "user.id": u,
		}})
		require.NoError(t, h.proc.ConsumeTraces(t.Context(), td))
	}
	// Five users through a store of two: three evictions, two open.
	assert.Equal(t, int64(3), counterValue(t, h.tel, metricSessionEvictions))
	assert.Equal(t, int64(2), counterValue(t, h.tel, metricOpenSessions))
	assert.Len(t, h.sink.AllTraces(), len(users))
}

// A conversation that carries its own id (gen_ai.conversation.id) is one
// session across a processor restart, even with a gap over the timeout;
// state kept in memory plays no part in it.
func TestTracesRestartKeepsConversation(t *testing.T) {
	turn := func(trace byte, at time.Time) ptrace.Traces {
		return buildTraces(t, trace, nil, spanSpec{id: 1, start: at, end: at.Add(time.Second), attrs: map[string]any{
			"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "user.id": "u-1",
			"gen_ai.conversation.id": "conv-42",
			"gen_ai.input.messages":  fmt.Sprintf(`[{"role":"user","content":"turn %d"}]`, trace),
		}})
	}
	cfg := createDefaultConfig()
	cfg.TracesProductID = "bot"

	var sessions []string
	for i, at := range []time.Time{t0, t0.Add(2 * time.Hour)} {
		// A new factory is a new process: nothing is shared.
		sink := new(consumertest.TracesSink)
		p, err := NewFactory().CreateTraces(t.Context(), processortest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
		require.NoError(t, p.ConsumeTraces(t.Context(), turn(byte(i+1), at)))
		require.NoError(t, p.Shutdown(t.Context()))

		sp := spansByID(t, sink)[1]
		v, _ := sp.Attributes().Get(event.AttrSessionID)
		sessions = append(sessions, v.Str())
		notes := noteEvents(sp, genai.EventMessage)
		require.Len(t, notes, 1)
		assert.Equal(t, "conv-42", notes[0][event.AttrSessionID])
	}
	assert.Equal(t, []string{"conv-42", "conv-42"}, sessions)
}

// Logs and traces pipelines that name the same processor share its
// sessions: a user's spans join the session their SDK events opened.
func TestTracesShareSessionsWithLogs(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.TracesProductID = "bot"
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	logsSink, tracesSink := new(consumertest.LogsSink), new(consumertest.TracesSink)
	pl, err := f.CreateLogs(t.Context(), set, cfg, logsSink)
	require.NoError(t, err)
	pt, err := f.CreateTraces(t.Context(), set, cfg, tracesSink)
	require.NoError(t, err)

	require.NoError(t, pl.ConsumeLogs(t.Context(), encode(msg("m1", "u1", t0))))
	td := buildTraces(t, 1, nil, spanSpec{id: 1, start: t0.Add(10 * time.Minute), end: t0.Add(11 * time.Minute), attrs: map[string]any{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "user.id": "u1",
	}})
	require.NoError(t, pt.ConsumeTraces(t.Context(), td))

	v, _ := spansByID(t, tracesSink)[1].Attributes().Get(event.AttrSessionID)
	assert.Equal(t, wantID("bot", "u1", t0), v.Str())

	require.NoError(t, pl.Shutdown(t.Context()))
	require.NoError(t, pt.Shutdown(t.Context()))
}

// Bad agentpulse.* events are left out with the rest of the span kept.
func TestTracesBadBusinessEvent(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.TracesProductID = "bot"
	h := newTracesHarness(t, cfg)
	td := buildTraces(t, 1, nil, spanSpec{id: 1, start: t0, end: t0.Add(time.Second),
		attrs: map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "user.id": "u1"},
		events: []spanEventSpec{
			{name: genai.EventPayment, at: t0, attrs: map[string]any{genai.AttrPaymentAmount: "lots"}},
			{name: genai.EventOutcome, at: t0, attrs: map[string]any{genai.AttrOutcomeName: "artifact"}},
		}})
	require.NoError(t, h.proc.ConsumeTraces(t.Context(), td))

	sp := spansByID(t, h.sink)[1]
	assert.Equal(t, event.TypeLLMCall, sp.Attributes().AsRaw()[event.AttrEventType])
	assert.NotContains(t, noteEvents(sp, genai.EventPayment)[0], event.AttrEventID, "the bad payment is not an event")
	assert.Equal(t, genai.CallEventID(pcommon.TraceID{15: 1}, pcommon.SpanID{7: 1})+"-ev1",
		noteEvents(sp, genai.EventOutcome)[0][event.AttrEventID])
}
