package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"context"
	"sync"
	"time"

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

func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	start := time.Now()
	products, withoutProduct := p.resourceProducts(ctx, td)
	if withoutProduct > 0 {
		p.core.tel.noProduct.Add(ctx, int64(withoutProduct))
		p.warnNoProduct.Do(func() {
			p.core.logger.Warn("spans without a product are passed on without AgentPulse events; " +
				"send them with a product key through the agentpulse_query authenticator, " +
				"set the resource attribute agentpulse.product_id, or set traces_product_id")
		})
	}
	if withoutProduct == td.SpanCount() {
		return td, nil
	}

	// Each span's events take the product just written on its resource.
	mapped, mapErrs := genai.MapTraces(td, genai.Options{ProductOf: genai.ResourceProduct})
	if len(mapErrs) > 0 {
		p.core.logger.Debug("agentpulse span events left out",
			zap.Int("count", len(mapErrs)), zap.Errors("errors", mapErrs[:min(len(mapErrs), maxLoggedMappingErrors)]))
	}
	events := make([]*event.Event, len(mapped))
	for i := range mapped {
		events[i] = &mapped[i].Event
	}
	assigned := p.core.sessionize(ctx, events)
	for _, e := range events {
		p.core.enrich(ctx, e)
	}
	genai.Annotate(td, mapped)
	stripped := p.applyContentPolicy(td, products)

	p.core.logger.Debug("processed spans",
		zap.Int("spans", td.SpanCount()),
		zap.Int("events", len(events)),
		zap.Int("events_sessionized", assigned),
		zap.Int("content_items_removed", stripped),
		zap.Int("spans_without_product", withoutProduct),
		zap.Duration("duration", time.Since(start)))

	return td, nil
}

// resourceProducts decides the product of each resource's spans: the
// product key the request authenticated with, else the resource's
// agentpulse.product_id, else traces_product_id. The product is written on
// the resource, so that the mapping, the agentpulse exporter and others
// downstream see it; "" means none is known. It also returns how many spans
// have none.
func (p *tracesProcessor) resourceProducts(ctx context.Context, td ptrace.Traces) ([]string, int) {
	keyProduct, _ := auth.ProductFromContext(ctx)
	products := make([]string, td.ResourceSpans().Len())
	without := 0
	for i, rs := range td.ResourceSpans().All() {
		attrs := rs.Resource().Attributes()
		product := keyProduct
		if product == "" {
			product = genai.ResourceProduct(attrs)
		}
		if product == "" {
			product = p.product
		}
		if product == "" {
			for _, ss := range rs.ScopeSpans().All() {
				without += ss.Spans().Len()
			}
			continue
		}
		attrs.PutStr(event.AttrProductID, product)
		products[i] = product
	}

	return products, without
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
