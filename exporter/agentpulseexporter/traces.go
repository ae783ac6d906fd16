package agentpulseexporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
)

// maxLoggedMappingErrors bounds the mapping problems quoted in one debug
// line.
const maxLoggedMappingErrors = 5

// pushTraces stores the events of spans the agentpulse processor annotated.
// The spans are mapped again (internal/genai), and the annotations the
// processor wrote (sessions, users, costs, event ids, message notes,
// dollar amounts) make the events equal to the ones it computed. The
// product is the resource's agentpulse.product_id, which the processor
// sets; spans without it are skipped and counted.
func (e *eventExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if e.store == nil {
		return errNotStarted
	}
	skipped := 0
	for _, rs := range td.ResourceSpans().All() {
		if genai.ResourceProduct(rs.Resource().Attributes()) != "" {
			continue
		}
		for _, ss := range rs.ScopeSpans().All() {
			skipped += ss.Spans().Len()
		}
	}
	if skipped > 0 {
		e.spansWithoutProduct.Add(ctx, int64(skipped))
		e.logger.Debug("spans without agentpulse.product_id skipped; put the agentpulse processor before this exporter",
			zap.Int("spans", skipped))
	}
	if skipped == td.SpanCount() {
		return nil
	}

	mapped, mapErrs := genai.MapTraces(td, genai.Options{ProductOf: genai.ResourceProduct})
	if len(mapErrs) > 0 {
		e.logger.Debug("agentpulse span events left out",
			zap.Int("count", len(mapErrs)), zap.Errors("errors", mapErrs[:min(len(mapErrs), maxLoggedMappingErrors)]))
	}
	if len(mapped) == 0 {
		return nil
	}
	events := make([]event.Event, 0, len(mapped))
	now := time.Now()
	var invalid []error
	for i := range mapped {
		m := &mapped[i]
		err := m.Event.Check(now, maxFutureSkew)
		if err == nil && (m.TraceID.IsEmpty() || m.SpanID.IsEmpty()) {
			err = errNoSpanID
		}
		if err != nil {
			invalid = append(invalid, fmt.Errorf("span %s: %w", m.SpanID, err))
			continue
		}
		events = append(events, m.Event)
	}
	if len(invalid) > 0 {
		e.logger.Debug("span events that cannot be stored left out",
			zap.Int("count", len(invalid)), zap.Errors("errors", invalid[:min(len(invalid), maxLoggedMappingErrors)]))
	}
	if len(events) == 0 {
		return nil
	}

	return e.insert(ctx, events)
}

// maxFutureSkew is how far ahead of the clock a span's time may be, as for
// the ingest API's events.
const maxFutureSkew = 24 * time.Hour

var errNoSpanID = errors.New("a span without trace and span ids cannot be told apart from others")
