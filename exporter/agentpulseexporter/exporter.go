package agentpulseexporter

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/event"
)

// logsExporter decodes AgentPulse events from log records and inserts each
// batch with one statement.
type logsExporter struct {
	cfg    *Config
	logger *zap.Logger
	store  *chstore.Store

	// Totals of successful inserts, logged at shutdown.
	inserts atomic.Int64
	events  atomic.Int64
}

func newLogsExporter(cfg *Config, logger *zap.Logger) *logsExporter {
	return &logsExporter{cfg: cfg, logger: logger}
}

// start opens the store, shared with the other components of the process
// that name the same storage, and applies pending migrations.
func (e *logsExporter) start(ctx context.Context, _ component.Host) error {
	s, err := chstore.Open(ctx, e.cfg.Storage, e.logger)
	if err != nil {
		return fmt.Errorf("failed to open the store: %w", err)
	}
	e.store = s
	return nil
}

func (e *logsExporter) shutdown(context.Context) error {
	if e.store == nil {
		return nil
	}
	e.logger.Info("exporter stopped",
		zap.Int64("inserts", e.inserts.Load()), zap.Int64("events", e.events.Load()))
	return e.store.Close()
}

var errNotStarted = errors.New("exporter is not started")

// pushLogs writes the events of ld. Events the store can never accept are
// a permanent error, so the queue drops them instead of retrying; any
// other failure is retried.
func (e *logsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
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
