package agentpulseexporter

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
)

// maxLoggedMappingErrors bounds the mapping problems quoted in one debug
// line.
const maxLoggedMappingErrors = 5

type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

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
	products := make(map[spanKey]string, td.SpanCount())
	skipped := 0
	for _, rs := range td.ResourceSpans().All() {
		product := ""
		if v, ok := rs.Resource().Attributes().Get(event.AttrProductID); ok && v.Type() == pcommon.ValueTypeStr {
			product = strings.TrimSpace(v.Str())
		}
		for _, ss := range rs.ScopeSpans().All() {
			if product == "" {
				skipped += ss.Spans().Len()
				continue
			}
			for _, sp := range ss.Spans().All() {
				k := spanKey{sp.TraceID(), sp.SpanID()}
				if _, dup := products[k]; !dup {
					products[k] = product
				}
			}
		}
	}
	if skipped > 0 {
		e.spansWithoutProduct.Add(ctx, int64(skipped))
		e.logger.Debug("spans without agentpulse.product_id skipped; put the agentpulse processor before this exporter",
			zap.Int("spans", skipped))
	}
	if len(products) == 0 {
		return nil
	}

	mapped, mapErrs := genai.MapTraces(td, genai.Options{})
	if len(mapErrs) > 0 {
		e.logger.Debug("agentpulse span events left out",
			zap.Int("count", len(mapErrs)), zap.Errors("errors", mapErrs[:min(len(mapErrs), maxLoggedMappingErrors)]))
	}
	events := make([]event.Event, 0, len(mapped))
	for _, m := range mapped {
		product, ok := products[spanKey{m.TraceID, m.SpanID}]
		if !ok {
			continue
		}
		m.Event.ProductID = product
		events = append(events, m.Event)
	}
	if len(events) == 0 {
		return nil
	}

	return e.insert(ctx, events)
}
