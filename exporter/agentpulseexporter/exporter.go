package agentpulseexporter

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/exporter/agentpulseexporter/internal/metadata"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/event"
)

// eventExporter inserts AgentPulse events, decoded from log records or
// mapped from annotated spans, each batch with one statement.
type eventExporter struct {
	cfg    *Config
	logger *zap.Logger
	store  *chstore.Store

	// Totals of successful inserts, logged at shutdown.
	inserts atomic.Int64
	events  atomic.Int64

	spansWithoutProduct metric.Int64Counter
}

func newEventExporter(cfg *Config, set component.TelemetrySettings) (*eventExporter, error) {
	e := &eventExporter{cfg: cfg, logger: set.Logger}
	var err error
	e.spansWithoutProduct, err = set.MeterProvider.Meter(metadata.ScopeName).Int64Counter(metricSpansWithoutProduct,
		metric.WithDescription("Spans skipped because their resource has no agentpulse.product_id (the agentpulse processor did not run before this exporter)."),
		metric.WithUnit("{span}"))
	if err != nil {
		return nil, err
	}
	return e, nil
}

// start opens the store, shared with the other components of the process
// that name the same storage, and applies pending migrations.
func (e *eventExporter) start(ctx context.Context, _ component.Host) error {
	s, err := chstore.Open(ctx, e.cfg.Storage, e.logger)
	if err != nil {
		return fmt.Errorf("failed to open the store: %w", err)
	}
	e.store = s
	return nil
}

func (e *eventExporter) shutdown(context.Context) error {
	if e.store == nil {
		return nil
	}
	e.logger.Info("exporter stopped",
		zap.Int64("inserts", e.inserts.Load()), zap.Int64("events", e.events.Load()))
	return e.store.Close()
}

var errNotStarted = errors.New("exporter is not started")

const metricSpansWithoutProduct = "otelcol_exporter_agentpulse_spans_without_product"

// pushLogs writes the events of ld. Events the store can never accept are
// a permanent error, so the queue drops them instead of retrying; any
// other failure is retried.
func (e *eventExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if e.store == nil {
		return errNotStarted
	}
	events := make([]event.Event, 0, ld.LogRecordCount())
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				events = append(events, event.FromLogRecord(rl.Resource(), lrs.At(k)))
			}
		}
	}

	return e.insert(ctx, events)
}

// insert writes one batch; events the store can never accept make the
// error permanent.
func (e *eventExporter) insert(ctx context.Context, events []event.Event) error {
	err := e.store.Insert(ctx, events)
	if err == nil {
		e.inserts.Add(1)
		e.events.Add(int64(len(events)))
		return nil
	}
	if chstore.IsPermanent(err) {
		return consumererror.NewPermanent(err)
	}
	return err
}
