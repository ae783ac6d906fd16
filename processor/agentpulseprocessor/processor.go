package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/event"
)

// core is the state and logic shared by every pipeline that uses one
// agentpulse processor: the per-event steps work on event.Event, so any
// signal that maps to events can use them.
type core struct {
	logger   *zap.Logger
	tel      *telemetry
	sessions *sessionStore
	prices   *cachedPrices
	rates    map[string]float64
	products map[string]*policy
	fallback *policy
	now      func() time.Time

	unknownModels     *warnOnce
	unknownCurrencies *warnOnce
}

func newCore(cfg *Config, set component.TelemetrySettings) (*core, error) {
	prices, priceErrs := cfg.Pricing.table()
	rates, rateErrs := normalizeRates(cfg.ExchangeRates)
	if err := errors.Join(append(priceErrs, rateErrs...)...); err != nil {
		return nil, err
	}

	c := &core{
		logger:   set.Logger,
		sessions: newSessionStore(cfg.SessionTimeout, cfg.MaxOpenSessions),
		prices:   newCachedPrices(prices),
		rates:    rates,
		products: make(map[string]*policy, len(cfg.Products)),
		fallback: compilePolicy(cfg.DefaultProduct),
		now:      time.Now,
		unknownModels: newWarnOnce(set.Logger,
			"LLM calls of a model without a price are unpriced; add it under pricing::models", "model"),
		unknownCurrencies: newWarnOnce(set.Logger,
			"payments in a currency without a rate are left out of US dollar totals; add it under exchange_rates", "currency"),
	}
	for name, pc := range cfg.Products {
		c.products[name] = compilePolicy(pc)
	}
	var err error
	if c.tel, err = newTelemetry(set, c.sessions.open.Load); err != nil {
		return nil, err
	}

	return c, nil
}

func (c *core) shutdown() {
	c.tel.shutdown()
}

func (c *core) policy(product string) *policy {
	if p, ok := c.products[product]; ok {
		return p
	}

	return c.fallback
}

// sessionize assigns server-side sessions to the events without one.
func (c *core) sessionize(ctx context.Context, events []*event.Event) int {
	assigned, evicted := c.sessions.assign(events, c.now())
	if evicted > 0 {
		c.tel.evictions.Add(ctx, int64(evicted))
	}

	return assigned
}

// enrich prices, converts, classifies and applies the content policy to
// one event, in that order: topics are matched before content is dropped.
func (c *core) enrich(ctx context.Context, e *event.Event) {
	switch e.EventType {
	case event.TypeLLMCall:
		cost, status, reason := llmCost(c.prices, e.Properties)
		e.CostUSD, e.CostStatus = &cost, status
		switch reason {
		case unpricedUnknownModel:
			c.tel.unpriced.Add(ctx, 1, c.tel.unknownModel)
			c.unknownModels.warn(event.String(e.Properties, propModel))
		case unpricedNoUsage:
			c.tel.unpriced.Add(ctx, 1, c.tel.noUsage)
		}
	case event.TypeToolCall:
		cost, status := toolCost(e.Properties)
		e.CostUSD, e.CostStatus = &cost, status
	case event.TypeOutcomePayment:
		usd, currency, known := convertPayment(c.rates, e.Properties)
		e.AmountUSD = usd
		if !known {
			c.tel.unconverted.Add(ctx, 1)
			c.unknownCurrencies.warn(currency)
		}
	case event.TypeMessageUser:
		pol := c.policy(e.ProductID)
		if content, ok := e.Properties[propContent].(string); ok {
			if topic := classify(pol.rules, content); topic != "" {
				e.Topic = topic
			}
		}
		applyContentPolicy(e.Properties, pol.trackContent)
	case event.TypeMessageAgent:
		applyContentPolicy(e.Properties, c.policy(e.ProductID).trackContent)
	}
}

// logsProcessor applies the core to AgentPulse events encoded as log
// records; other records pass through untouched.
type logsProcessor struct {
	core *core
}

type eventRecord struct {
	lr plog.LogRecord
	ev event.Event
}

func (p *logsProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	start := time.Now()
	var records []eventRecord
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				lr := lrs.At(k)
				if _, ok := lr.Attributes().Get(event.AttrEventType); !ok {
					continue
				}
				records = append(records, eventRecord{lr: lr, ev: event.FromLogRecord(rl.Resource(), lr)})
			}
		}
	}
	if len(records) == 0 {
		return ld, nil
	}

	events := make([]*event.Event, len(records))
	for i := range records {
		events[i] = &records[i].ev
	}
	assigned := p.core.sessionize(ctx, events)
	for i := range records {
		p.core.enrich(ctx, &records[i].ev)
		records[i].ev.WriteTo(records[i].lr)
	}

	p.core.logger.Debug("processed events",
		zap.Int("events", len(records)),
		zap.Int("events_sessionized", assigned),
		zap.Duration("duration", time.Since(start)))

	return ld, nil
}
