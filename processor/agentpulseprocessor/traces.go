package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
)

// maxLoggedMappingErrors bounds the mapping problems quoted in one debug
// line.
const maxLoggedMappingErrors = 5

// tracesProcessor maps GenAI spans onto AgentPulse events, applies the core
// to them (sessions, cost, currency, topics, content policy) and writes the
// results back onto the spans, which are always passed on.
type tracesProcessor struct {
	core    *core
	product string // traces_product_id

	warnNoProduct sync.Once
}

func newTracesProcessor(c *core, cfg *Config) *tracesProcessor {
	return &tracesProcessor{core: c, product: cfg.TracesProductID}
}

type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	start := time.Now()
	products := p.resourceProducts(ctx, td)
	spanProducts := make(map[spanKey]string, td.SpanCount())
	withoutProduct := 0
	for i, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if products[i] == "" {
					withoutProduct++
					continue
				}
				k := spanKey{sp.TraceID(), sp.SpanID()}
				if _, dup := spanProducts[k]; !dup {
					spanProducts[k] = products[i]
				}
			}
		}
	}
	if withoutProduct > 0 {
		p.core.tel.noProduct.Add(ctx, int64(withoutProduct))
		p.warnNoProduct.Do(func() {
			p.core.logger.Warn("spans without a product are passed on without AgentPulse events; " +
				"send them with a product key through the agentpulse_query authenticator, " +
				"set the resource attribute agentpulse.product_id, or set traces_product_id")
		})
	}
	if len(spanProducts) == 0 {
		return td, nil
	}

	// The product is set per span below: spans of several resources may
	// belong to different products.
	mapped, mapErrs := genai.MapTraces(td, genai.Options{})
	if len(mapErrs) > 0 {
		p.core.logger.Debug("agentpulse span events left out",
			zap.Int("count", len(mapErrs)), zap.Errors("errors", mapErrs[:min(len(mapErrs), maxLoggedMappingErrors)]))
	}
	kept := mapped[:0]
	for _, m := range mapped {
		product, ok := spanProducts[spanKey{m.TraceID, m.SpanID}]
		if !ok {
			continue
		}
		m.Event.ProductID = product
		kept = append(kept, m)
	}

	events := make([]*event.Event, len(kept))
	for i := range kept {
		events[i] = &kept[i].Event
	}
	assigned := p.core.sessionize(ctx, events)
	for _, e := range events {
		p.core.enrich(ctx, e)
	}
	genai.Annotate(td, kept)
	stripped := p.applyContentPolicy(td, products)

	p.core.logger.Debug("processed spans",
		zap.Int("spans", td.SpanCount()),
		zap.Int("events", len(kept)),
		zap.Int("events_sessionized", assigned),
		zap.Int("content_items_removed", stripped),
		zap.Int("spans_without_product", withoutProduct),
		zap.Duration("duration", time.Since(start)))

	return td, nil
}

// resourceProducts decides the product of each resource's spans: the
// product key the request authenticated with, else the resource's
// agentpulse.product_id, else traces_product_id. The product is written on
// the resource, so that the agentpulse exporter and others downstream see
// it; "" means none is known.
func (p *tracesProcessor) resourceProducts(ctx context.Context, td ptrace.Traces) []string {
	keyProduct, _ := auth.ProductFromContext(ctx)
	products := make([]string, td.ResourceSpans().Len())
	for i, rs := range td.ResourceSpans().All() {
		attrs := rs.Resource().Attributes()
		product := keyProduct
		if product == "" {
			if v, ok := attrs.Get(event.AttrProductID); ok && v.Type() == pcommon.ValueTypeStr {
				product = strings.TrimSpace(v.Str())
			}
		}
		if product == "" {
			product = p.product
		}
		if product != "" {
			attrs.PutStr(event.AttrProductID, product)
		}
		products[i] = product
	}

	return products
}

// applyContentPolicy removes message content from the spans of products
// that do not track content, and returns how many attributes and span
// events it removed. Spans without a product are left as they are.
func (p *tracesProcessor) applyContentPolicy(td ptrace.Traces, products []string) int {
	removed := 0
	for i, rs := range td.ResourceSpans().All() {
		if products[i] == "" || p.core.policy(products[i]).trackContent {
			continue
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				removed += genai.StripContent(sp)
			}
		}
	}

	return removed
}
