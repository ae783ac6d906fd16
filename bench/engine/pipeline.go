package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/processor/agentpulseprocessor"
)

// benchRates are the exchange rates of bench/collector.yaml, so that rows
// made here are the rows the collector stores.
var benchRates = map[string]float64{"EUR": 1.08, "GBP": 1.27, "BRL": 0.18}

// pipeline turns generated events into the events the exporter receives:
// the agentpulse processor, configured as in bench/collector.yaml, runs on
// them in this process.
type pipeline struct {
	proc processor.Logs
	mu   sync.Mutex
	out  []event.Event
}

func newPipeline(ctx context.Context) (*pipeline, error) {
	f := agentpulseprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*agentpulseprocessor.Config)
	cfg.SessionTimeout = 30 * time.Minute
	cfg.ExchangeRates = benchRates
	p := &pipeline{}
	sink, err := consumer.NewLogs(p.consume)
	if err != nil {
		return nil, err
	}
	proc, err := f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), cfg, sink)
	if err != nil {
		return nil, fmt.Errorf("failed to create the processor: %w", err)
	}
	if err := proc.Start(ctx, componentHost{}); err != nil {
		return nil, err
	}
	p.proc = proc
	return p, nil
}

func (p *pipeline) consume(_ context.Context, ld plog.Logs) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				p.out = append(p.out, event.FromLogRecord(rl.Resource(), lrs.At(k)))
			}
		}
	}
	return nil
}

// process runs one request's worth of events through the processor, as
// the receiver hands them on.
func (p *pipeline) process(ctx context.Context, events []workload.Event) ([]event.Event, error) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrProductID, events[0].ProductID)
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range events {
		e := events[i].ToEvent()
		e.AppendTo(sl)
	}
	p.mu.Lock()
	p.out = make([]event.Event, 0, len(events))
	p.mu.Unlock()
	if err := p.proc.ConsumeLogs(ctx, ld); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out, nil
}

func (p *pipeline) close(ctx context.Context) {
	_ = p.proc.Shutdown(ctx)
}

type componentHost struct{}

func (componentHost) GetExtensions() map[component.ID]component.Component { return nil }
