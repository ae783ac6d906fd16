package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor/internal/metadata"
)

// Names of the processor's internal metrics.
const (
	metricOpenSessions        = "otelcol_processor_agentpulse_open_sessions"
	metricSessionEvictions    = "otelcol_processor_agentpulse_session_evictions"
	metricUnpricedLLMCalls    = "otelcol_processor_agentpulse_unpriced_llm_calls"
	metricUnconvertedPayments = "otelcol_processor_agentpulse_unconverted_payments"
	metricSpansWithoutProduct = "otelcol_processor_agentpulse_spans_without_product"
)

// telemetry holds the processor's internal metrics.
type telemetry struct {
	evictions   metric.Int64Counter
	unpriced    metric.Int64Counter
	unconverted metric.Int64Counter
	noProduct   metric.Int64Counter
	reg         metric.Registration

	unknownModel metric.MeasurementOption
	noUsage      metric.MeasurementOption
}

func newTelemetry(set component.TelemetrySettings, openSessions func() int64) (*telemetry, error) {
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	t := &telemetry{
		unknownModel: metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", unpricedUnknownModel))),
		noUsage:      metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", unpricedNoUsage))),
	}
	var errs, err error
	t.evictions, err = meter.Int64Counter(metricSessionEvictions,
		metric.WithDescription("Users whose session state was dropped because max_open_sessions was reached."),
		metric.WithUnit("{session}"))
	errs = errors.Join(errs, err)
	t.unpriced, err = meter.Int64Counter(metricUnpricedLLMCalls,
		metric.WithDescription("LLM calls left unpriced, by reason: unknown_model (no price for the model) or no_usage (no token counts)."),
		metric.WithUnit("{call}"))
	errs = errors.Join(errs, err)
	t.unconverted, err = meter.Int64Counter(metricUnconvertedPayments,
		metric.WithDescription("Payments whose currency has no exchange rate, so they are left out of US dollar totals."),
		metric.WithUnit("{payment}"))
	errs = errors.Join(errs, err)
	t.noProduct, err = meter.Int64Counter(metricSpansWithoutProduct,
		metric.WithDescription("Spans passed on without events because no product was known for them (no key, no agentpulse.product_id resource attribute, no traces_product_id)."),
		metric.WithUnit("{span}"))
	errs = errors.Join(errs, err)

	open, err := meter.Int64ObservableGauge(metricOpenSessions,
		metric.WithDescription("Sessions without a client session id held open in memory."),
		metric.WithUnit("{session}"))
	errs = errors.Join(errs, err)
	if err == nil {
		t.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(open, openSessions())
			return nil
		}, open)
		errs = errors.Join(errs, err)
	}

	return t, errs
}

func (t *telemetry) shutdown() {
	if t.reg != nil {
		_ = t.reg.Unregister()
	}
}

// maxWarned bounds how many distinct names each warnOnce remembers.
const (
	maxWarned     = 1000
	maxWarnedName = 128
)

// warnOnce logs a warning the first time a name is seen, so that an
// unknown model or currency is reported once rather than per event.
type warnOnce struct {
	mu     sync.Mutex
	seen   map[string]struct{}
	full   bool
	logger *zap.Logger
	msg    string
	field  string
}

func newWarnOnce(logger *zap.Logger, msg, field string) *warnOnce {
	return &warnOnce{seen: make(map[string]struct{}), logger: logger, msg: msg, field: field}
}

func (w *warnOnce) warn(name string) {
	name = clip(name, maxWarnedName)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.seen[name]; ok || w.full {
		return
	}
	if len(w.seen) >= maxWarned {
		w.full = true
		w.logger.Warn(w.msg+"; too many distinct names, no more will be logged", zap.Int("distinct", len(w.seen)))
		return
	}
	w.seen[name] = struct{}{}
	w.logger.Warn(w.msg, zap.String(w.field, name))
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}

	return strings.ToValidUTF8(s[:n], "")
}
