package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// turn is one conversation turn as an instrumented agent reports it: an
// agent run with the user's message and the reply, one model call and one
// tool call, in OTel GenAI attributes.
type turn struct {
	conversation, user string
	question, answer   string
	model              string
	input, cached, out int64
	payment            float64 // EUR, 0 for none
}

// record makes the spans of t with the OTel Go SDK and returns them ended.
func (tn turn) record(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	// The payload names a product of its own: the key's product must win.
	res := resource.NewSchemaless(
		attribute.String("service.name", "legal-assistant"),
		attribute.String("agentpulse.product_id", "someone-elses-bot"),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	tracer := tp.Tracer("e2e")

	ctx, agent := tracer.Start(context.Background(), "invoke_agent legal-assistant", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.conversation.id", tn.conversation),
		attribute.String("user.id", tn.user),
		attribute.String("gen_ai.input.messages", fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":%q}]}]`, tn.question)),
		attribute.String("gen_ai.output.messages", fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":%q}]}]`, tn.answer)),
	))
	_, chat := tracer.Start(ctx, "chat "+tn.model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", tn.model),
		attribute.Int64("gen_ai.usage.input_tokens", tn.input),
		attribute.Int64("gen_ai.usage.cache_read.input_tokens", tn.cached),
		attribute.Int64("gen_ai.usage.output_tokens", tn.out),
	))
	chat.End()
	_, tool := tracer.Start(ctx, "execute_tool search_case_law", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", "search_case_law"),
	))
	tool.End()
	if tn.payment > 0 {
		agent.AddEvent("agentpulse.payment", trace.WithAttributes(
			attribute.Float64("agentpulse.payment.amount", tn.payment),
			attribute.String("agentpulse.payment.currency", "EUR"),
		))
	}
	agent.End()
	return rec.Ended()
}

// export sends spans with the real OTLP/gRPC exporter of the OTel Go SDK.
func export(t *testing.T, addr, key string, spans []sdktrace.ReadOnlySpan) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracegrpc.New(ctx,
		otlptracegrpc.WithEndpoint(addr),
		otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"x-api-key": key}),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
	)
	require.NoError(t, err)
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	return exp.ExportSpans(ctx, spans)
}

func TestOTLPGRPCTraces(t *testing.T) {
	dataDir := t.TempDir()
	c := startCollector(t, "legal-bot", dataDir)

	prices, fx := priceTable(t), exchangeRates(t)
	gpt4o := prices["gpt-4o"]
	cost := func(tn turn) float64 {
		return (float64(tn.input-tn.cached)*gpt4o.Input + float64(tn.cached)*gpt4o.CachedInput + float64(tn.out)*gpt4o.Output) / 1e6
	}

	// Refused keys: nothing of these spans may be stored.
	refused := turn{conversation: "conv-refused", user: "u-x", question: "q", answer: "a", model: "gpt-4o", input: 10, out: 1}.record(t)
	for name, key := range map[string]string{
		"unknown key":   "ap_prod_not-a-key-of-this-collector",
		"dashboard key": c.dashKey,
		"no key":        "",
	} {
		err := export(t, c.grpcAddr, key, refused)
		require.Error(t, err, name)
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "%s: %v", name, err)
	}

	first := turn{
		conversation: "conv-grpc-1", user: "u-grpc",
		question: "My landlord kept my deposit, what can I do?", answer: "You can send a formal demand letter first.",
		model: "gpt-4o", input: 1500, cached: 500, out: 250, payment: 20,
	}
	require.NoError(t, export(t, c.grpcAddr, c.prodKey, first.record(t)))

	path := "/v1/sessions/" + first.conversation
	got := c.waitFor(t, path, func(m map[string]any) bool { return m["llm_calls"] == 1.0 })
	assert.Equal(t, "u-grpc", got["user_id"])
	assert.Equal(t, "legal-bot", got["product_id"], "the key's product wins over the resource's")
	assert.EqualValues(t, 1, got["conversation_depth"])
	assert.EqualValues(t, 1, got["tool_calls"])
	assert.EqualValues(t, 0, got["unpriced_llm_calls"])
	assert.InDelta(t, cost(first), got["total_cost_usd"], 1e-12)
	assert.InDelta(t, 20*fx["EUR"], got["revenue_usd"], 1e-9)
	assert.Equal(t, true, got["converted"])

	// The stored events: tokens as sent, cost filled in, no content.
	types := map[string]int{}
	for _, raw := range got["events"].([]any) {
		e := raw.(map[string]any)
		types[e["event_type"].(string)]++
		props, _ := e["properties"].(map[string]any)
		switch e["event_type"] {
		case "action.llm_call":
			assert.EqualValues(t, first.input, props["input_tokens"])
			assert.EqualValues(t, first.cached, props["cached_input_tokens"])
			assert.EqualValues(t, first.out, props["output_tokens"])
			assert.InDelta(t, cost(first), props["cost_usd"], 1e-12)
			assert.Equal(t, "computed", props["cost_status"])
		case "message.user":
			assert.NotContains(t, props, "content", "the quick start's products do not track content")
			assert.EqualValues(t, len([]rune(first.question)), props["content_length"])
		case "outcome.payment":
			assert.EqualValues(t, 20, props["amount"])
			assert.Equal(t, "EUR", props["currency"])
		}
	}
	assert.Equal(t, map[string]int{
		"message.user": 1, "message.agent": 1, "action.llm_call": 1, "action.tool_call": 1, "outcome.payment": 1,
	}, types)

	econ := c.get(t, "/v1/economics")
	require.Equal(t, http.StatusOK, econ.status, "%s", econ.raw)
	e := econ.json(t)
	assert.EqualValues(t, 1, e["sessions"])
	assert.InDelta(t, cost(first), e["total_cost_usd"], 1e-12)
	assert.InDelta(t, cost(first), e["llm_cost_usd"], 1e-12)
	assert.InDelta(t, 20*fx["EUR"], e["total_revenue_usd"], 1e-9)
	assert.InDelta(t, 20*fx["EUR"]-cost(first), e["gross_margin_usd"], 1e-9)

	// A restart does not split a conversation that carries its own id:
	// the next turn, after the collector restarted, joins the session.
	c.stop(t)
	c = startCollector(t, "legal-bot", dataDir)
	second := turn{
		conversation: "conv-grpc-1", user: "u-grpc",
		question: "And if they do not answer?", answer: "Then you can file a claim.",
		model: "gpt-4o", input: 2100, cached: 1800, out: 120,
	}
	require.NoError(t, export(t, c.grpcAddr, c.prodKey, second.record(t)))
	got = c.waitFor(t, path, func(m map[string]any) bool { return m["llm_calls"] == 2.0 })
	assert.EqualValues(t, 2, got["conversation_depth"])
	assert.EqualValues(t, 2, got["tool_calls"])
	assert.InDelta(t, cost(first)+cost(second), got["total_cost_usd"], 1e-12)

	list := c.get(t, "/v1/sessions")
	require.Equal(t, http.StatusOK, list.status)
	assert.EqualValues(t, 1, list.json(t)["total"], "one session, not one per process")

	assert.Equal(t, http.StatusNotFound, c.get(t, "/v1/sessions/conv-refused").status)
}
