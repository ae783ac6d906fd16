package agentpulseprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/pricing"
	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor/internal/metadata"
)

// harness runs the processor built by the factory into a sink, with real
// internal telemetry and an observed logger.
type harness struct {
	proc processor.Logs
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{sink: new(consumertest.LogsSink), tel: componenttest.NewTelemetry(), logs: logs}
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	set.Logger = zap.New(core)

	var err error
	h.proc, err = NewFactory().CreateLogs(t.Context(), set, cfg, h.sink)
	require.NoError(t, err)
	require.NoError(t, h.proc.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, h.proc.Shutdown(context.Background()))
		assert.NoError(t, h.tel.Shutdown(context.Background()))
	})

	return h
}

// output decodes every AgentPulse event the sink received, by event id.
func (h *harness) output() map[string]event.Event {
	out := map[string]event.Event{}
	for _, ld := range h.sink.AllLogs() {
		forEachRecord(ld, func(rl plog.ResourceLogs, lr plog.LogRecord) {
			if _, ok := lr.Attributes().Get(event.AttrEventType); ok {
				e := event.FromLogRecord(rl.Resource(), lr)
				out[e.EventID] = e
			}
		})
	}

	return out
}

func forEachRecord(ld plog.Logs, fn func(plog.ResourceLogs, plog.LogRecord)) {
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		for j := range rl.ScopeLogs().Len() {
			lrs := rl.ScopeLogs().At(j).LogRecords()
			for k := range lrs.Len() {
				fn(rl, lrs.At(k))
			}
		}
	}
}

// encode writes events as the receiver does: the product as a resource
// attribute, one record per event.
func encode(events ...*event.Event) plog.Logs {
	ld := plog.NewLogs()
	byProduct := map[string]plog.ScopeLogs{}
	for _, e := range events {
		sl, ok := byProduct[e.ProductID]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(event.AttrProductID, e.ProductID)
			sl = rl.ScopeLogs().AppendEmpty()
			byProduct[e.ProductID] = sl
		}
		e.AppendTo(sl)
	}

	return ld
}

func counterValue(t *testing.T, tel *componenttest.Telemetry, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	want := attribute.NewSet(attrs...)
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range data.DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, dp := range data.DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	default:
		t.Fatalf("metric %s has unexpected type %T", name, m.Data)
	}
	t.Fatalf("metric %s has no point with attributes %v", name, attrs)

	return 0
}

func TestProcessLogs(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ExchangeRates = map[string]float64{"BRL": 0.18}
	cfg.Products = map[string]ProductConfig{
		"legal-bot": {Topics: []TopicRule{{Topic: "divorce", Keywords: []string{"divorce", "custody"}}}},
		"open-bot":  {TrackContent: true},
	}
	h := newHarness(t, cfg)

	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	userMsg := "I need help with a Divorce, urgently"
	agentMsg := "Sure — tell me more"
	events := []*event.Event{
		{EventID: "m1", EventType: event.TypeMessageUser, UserID: "u1", ProductID: "legal-bot", Timestamp: at(0),
			Properties: map[string]any{"content": userMsg}, Metadata: map[string]any{"channel": "whatsapp"}},
		{EventID: "m2", EventType: event.TypeMessageAgent, UserID: "u1", ProductID: "legal-bot", Timestamp: at(1),
			Properties: map[string]any{"content": agentMsg}},
		{EventID: "llm1", EventType: event.TypeLLMCall, UserID: "u1", ProductID: "legal-bot", Timestamp: at(1),
			Properties: map[string]any{"model": "gpt-4o-mini", "input_tokens": int64(1200), "cached_input_tokens": int64(200), "output_tokens": int64(300)}},
		{EventID: "llm2", EventType: event.TypeLLMCall, UserID: "u1", ProductID: "legal-bot", Timestamp: at(2),
			Properties: map[string]any{"model": "acme-llm-9", "input_tokens": int64(10)}},
		{EventID: "llm3", EventType: event.TypeLLMCall, UserID: "u1", ProductID: "legal-bot", Timestamp: at(3),
			Properties: map[string]any{"model": "acme-llm-9", "input_tokens": int64(20)}},
		{EventID: "llm4", EventType: event.TypeLLMCall, UserID: "u1", ProductID: "legal-bot", Timestamp: at(3),
			Properties: map[string]any{"model": "gpt-4o"}},
		{EventID: "tool1", EventType: event.TypeToolCall, UserID: "u1", ProductID: "legal-bot", Timestamp: at(4),
			Properties: map[string]any{"tool_name": "search", "cost_usd": 0.004}},
		{EventID: "pay1", EventType: event.TypeOutcomePayment, UserID: "u1", ProductID: "legal-bot", Timestamp: at(5),
			Properties: map[string]any{"amount": 58.0, "currency": "brl"}},
		{EventID: "pay2", EventType: event.TypeOutcomePayment, UserID: "u1", ProductID: "legal-bot", Timestamp: at(6),
			Properties: map[string]any{"amount": 1000.0, "currency": "JPY"}},
		{EventID: "end", EventType: event.TypeSessionEnd, UserID: "u1", ProductID: "legal-bot", Timestamp: at(7),
			Properties: map[string]any{"reason": "converted"}},
		{EventID: "next", EventType: event.TypeMessageUser, UserID: "u1", ProductID: "legal-bot", Timestamp: at(8),
			Properties: map[string]any{"content": "custody question"}},
		{EventID: "client", SessionID: "sess_client", EventType: event.TypeMessageUser, UserID: "u2", ProductID: "open-bot", Timestamp: at(0),
			Properties: map[string]any{"content": "divorce, but this product has no rules"}},
	}
	ld := encode(events...)
	// A record of some other telemetry in the same batch.
	other := ld.ResourceLogs().AppendEmpty()
	other.Resource().Attributes().PutStr("service.name", "api")
	lr := other.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("GET /health 200")
	lr.Attributes().PutStr("http.route", "/health")
	lr.Attributes().PutStr("agentpulse.user_id", "not an event without its type")
	wantOther := plog.NewLogRecord()
	lr.CopyTo(wantOther)

	require.NoError(t, h.proc.ConsumeLogs(t.Context(), ld))
	got := h.output()
	require.Len(t, got, len(events))

	// Sessions: one until the session.end, then a new one; the client's
	// id is untouched.
	first, second := wantID("legal-bot", "u1", at(0)), wantID("legal-bot", "u1", at(8))
	for _, id := range []string{"m1", "m2", "llm1", "llm2", "llm3", "llm4", "tool1", "pay1", "pay2", "end"} {
		assert.Equal(t, first, got[id].SessionID, id)
	}
	assert.Equal(t, second, got["next"].SessionID)
	assert.Equal(t, "sess_client", got["client"].SessionID)

	// Content: dropped with its length kept, except where tracked; topics
	// matched before the drop.
	assert.Equal(t, map[string]any{"content_length": int64(len([]rune(userMsg)))}, got["m1"].Properties)
	assert.Equal(t, map[string]any{"channel": "whatsapp"}, got["m1"].Metadata)
	assert.Equal(t, "divorce", got["m1"].Topic)
	assert.Equal(t, map[string]any{"content_length": int64(len([]rune(agentMsg)))}, got["m2"].Properties)
	assert.Equal(t, "divorce", got["next"].Topic)
	assert.Equal(t, "divorce, but this product has no rules", got["client"].Properties["content"])
	assert.Empty(t, got["client"].Topic)

	// Costs.
	mini := rate(t, pricing.Default(), "gpt-4o-mini")
	require.NotNil(t, got["llm1"].CostUSD)
	assert.InDelta(t, (1000*mini.Input+200*mini.CachedInput+300*mini.Output)/1e6, *got["llm1"].CostUSD, 1e-15)
	assert.Equal(t, event.CostComputed, got["llm1"].CostStatus)
	for _, id := range []string{"llm2", "llm3", "llm4"} {
		require.NotNil(t, got[id].CostUSD, id)
		assert.Zero(t, *got[id].CostUSD, id)
		assert.Equal(t, event.CostUnpriced, got[id].CostStatus, id)
	}
	assert.InDelta(t, 0.004, *got["tool1"].CostUSD, 1e-15)
	assert.Equal(t, event.CostReported, got["tool1"].CostStatus)

	// Payments.
	require.NotNil(t, got["pay1"].AmountUSD)
	assert.InDelta(t, 58.0*0.18, *got["pay1"].AmountUSD, 1e-12)
	assert.Equal(t, "BRL", got["pay1"].Properties["currency"])
	assert.Nil(t, got["pay2"].AmountUSD)
	assert.Equal(t, 1000.0, got["pay2"].Properties["amount"])

	// The other record passed through as it was.
	var gotOther plog.LogRecord
	var found bool
	forEachRecord(h.sink.AllLogs()[0], func(_ plog.ResourceLogs, r plog.LogRecord) {
		if r.Body().Str() == "GET /health 200" {
			gotOther, found = r, true
		}
	})
	require.True(t, found)
	assert.Equal(t, wantOther.Attributes().AsRaw(), gotOther.Attributes().AsRaw())
	assert.Equal(t, wantOther.Timestamp(), gotOther.Timestamp())

	// Metrics: two calls of an unknown model, one without counts, one
	// payment in a currency without a rate, u1's second session open.
	assert.Equal(t, int64(2), counterValue(t, h.tel, metricUnpricedLLMCalls, attribute.String("reason", unpricedUnknownModel)))
	assert.Equal(t, int64(1), counterValue(t, h.tel, metricUnpricedLLMCalls, attribute.String("reason", unpricedNoUsage)))
	assert.Equal(t, int64(1), counterValue(t, h.tel, metricUnconvertedPayments))
	assert.Equal(t, int64(1), counterValue(t, h.tel, metricOpenSessions))

	// Warnings: once per unknown model and currency, never any content.
	warnings := h.logs.FilterLevelExact(zapcore.WarnLevel)
	require.Equal(t, 2, warnings.Len())
	assert.Equal(t, 1, warnings.FilterField(zap.String("model", "acme-llm-9")).Len())
	assert.Equal(t, 1, warnings.FilterField(zap.String("currency", "JPY")).Len())
	for _, entry := range h.logs.All() {
		for _, f := range entry.Context {
			assert.NotContains(t, f.String, "Divorce")
		}
		assert.NotContains(t, entry.Message, "Divorce")
	}
}

func TestRecordsWithoutEventsPassThrough(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("plain log line")
	lr.SetEventName(event.TypeMessageUser) // an event name alone does not make an AgentPulse event
	want := plog.NewLogs()
	ld.CopyTo(want)

	require.NoError(t, h.proc.ConsumeLogs(t.Context(), ld))
	require.Len(t, h.sink.AllLogs(), 1)
	assert.Equal(t, want, h.sink.AllLogs()[0])
}

func TestEvictionMetric(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaxOpenSessions = 2
	h := newHarness(t, cfg)

	var events []*event.Event
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		events = append(events, msg("e-"+u, u, t0))
	}
	require.NoError(t, h.proc.ConsumeLogs(t.Context(), encode(events...)))
	// Five users through a store of two: three evictions, two open.
	assert.Equal(t, int64(3), counterValue(t, h.tel, metricSessionEvictions))
	assert.Equal(t, int64(2), counterValue(t, h.tel, metricOpenSessions))
}

func TestPipelinesShareSessions(t *testing.T) {
	cfg := createDefaultConfig()
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	sink1, sink2 := new(consumertest.LogsSink), new(consumertest.LogsSink)
	p1, err := f.CreateLogs(t.Context(), set, cfg, sink1)
	require.NoError(t, err)
	p2, err := f.CreateLogs(t.Context(), set, cfg, sink2)
	require.NoError(t, err)

	require.NoError(t, p1.ConsumeLogs(t.Context(), encode(msg("a", "u1", t0))))
	require.NoError(t, p2.ConsumeLogs(t.Context(), encode(msg("b", "u1", t0.Add(10*time.Minute)))))
	get := func(s *consumertest.LogsSink) string {
		return s.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw()[event.AttrSessionID].(string)
	}
	assert.Equal(t, wantID("bot", "u1", t0), get(sink1))
	assert.Equal(t, get(sink1), get(sink2), "the second pipeline continues the first one's session")

	require.NoError(t, p1.Shutdown(t.Context()))
	require.NoError(t, p1.Shutdown(t.Context()), "a second shutdown is harmless")
	require.NoError(t, p2.Shutdown(t.Context()))
}

func TestCreateRejectsInvalidConfig(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Pricing.File = "testdata/missing.json"
	_, err := NewFactory().CreateLogs(t.Context(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	assert.ErrorContains(t, err, "pricing::file")
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	assert.Equal(t, metadata.LogsStability, f.LogsStability())
	assert.Equal(t, metadata.TracesStability, f.TracesStability())
	_, err := f.CreateMetrics(t.Context(), processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	assert.Error(t, err, "metrics are not supported")

	p, err := f.CreateLogs(t.Context(), processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	assert.True(t, p.Capabilities().MutatesData)
	require.NoError(t, p.Shutdown(t.Context()))

	pt, err := f.CreateTraces(t.Context(), processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	assert.True(t, pt.Capabilities().MutatesData)
	require.NoError(t, pt.Shutdown(t.Context()))
}
