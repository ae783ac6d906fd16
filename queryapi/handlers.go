package queryapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/apiserver"
	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/event"
)

// retryAfterSeconds is the Retry-After of a 503 answer.
const retryAfterSeconds = 5

// Routes of the query API.
const (
	routeHealth    = "GET /healthz"
	routeFunnel    = "GET /v1/funnel"
	routeSessions  = "GET /v1/sessions"
	routeSession   = "GET /v1/sessions/{id}"
	routeEconomics = "GET /v1/economics"
	routeTopics    = "GET /v1/topics"
)

// api answers the query endpoints from a store.
type api struct {
	store   analytics.Querier
	keys    *auth.Store
	cfg     *Config
	logger  *zap.Logger
	timeout time.Duration
	now     func() time.Time
	ready   *atomic.Bool
}

func (a *api) routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		routeHealth:    a.health,
		routeFunnel:    a.funnel,
		routeSessions:  a.sessions,
		routeSession:   a.session,
		routeEconomics: a.economics,
		routeTopics:    a.topics,
	}
}

// query is what every query endpoint reads from its request.
type query struct {
	product string
	period  period
	filter  analytics.Filter
	opts    analytics.Options
	params  url.Values
}

// begin authenticates the request, refuses parameters outside accepted and
// reads the ones the query endpoints share; the period only when withPeriod
// is set. When it returns false the error answer has been written.
func (a *api) begin(w http.ResponseWriter, r *http.Request, accepted []string, withPeriod bool) (query, bool) {
	w.Header().Set("Cache-Control", "no-store")
	principal, err := a.keys.Authenticate(r)
	if err != nil {
		apiserver.WriteAuthError(w, err)
		return query{}, false
	}

	q, err := parseQuery(r.URL.RawQuery, accepted)
	if err != nil {
		writeParamError(w, err)
		return query{}, false
	}
	product, denied := a.product(principal, q.Get("product_id"))
	if denied != nil {
		apiserver.WriteError(w, denied.status, denied.code, denied.message)
		return query{}, false
	}

	now := a.now()
	var p period
	if withPeriod {
		if p, err = parsePeriod(q, now); err != nil {
			writeParamError(w, err)
			return query{}, false
		}
	}

	return query{
		product: product,
		period:  p,
		filter: analytics.Filter{
			ProductID: product,
			From:      p.from,
			To:        p.to,
			Topic:     q.Get("topic"),
		},
		opts:   a.cfg.options(product, now),
		params: q,
	}, true
}

// denial is why a key may not read what a request asks for.
type denial struct {
	status  int
	code    string
	message string
}

// product resolves the product a request reads: a product key reads its own
// product, a dashboard key must name one of its organization.
func (a *api) product(p auth.Principal, named string) (string, *denial) {
	forbidden := &denial{http.StatusForbidden, apiserver.CodeForbidden,
		fmt.Sprintf("this API key cannot read product %q", named)}
	if p.Scope == auth.ScopeProduct {
		if named != "" && named != p.Product {
			return "", forbidden
		}
		return p.Product, nil
	}
	if named == "" {
		return "", &denial{http.StatusBadRequest, apiserver.CodeInvalidParameter, "product_id: required with a dashboard key"}
	}
	if !a.keys.CanRead(p, named) {
		return "", forbidden
	}

	return named, nil
}

func writeParamError(w http.ResponseWriter, err error) {
	apiserver.WriteError(w, http.StatusBadRequest, apiserver.CodeInvalidParameter, err.Error())
}

// writeStoreError answers a failed query: 500 when the store says that
// retrying cannot help, else 503 with Retry-After. The message never
// carries the store's error, which may hold SQL; the log does.
func (a *api) writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		apiserver.WriteError(w, http.StatusServiceUnavailable, apiserver.CodeOverloaded, "the request was canceled")
		return
	}
	a.logger.Warn("Query failed", zap.String("path", r.URL.Path), zap.Error(err))
	if isPermanent(err) {
		apiserver.WriteError(w, http.StatusInternalServerError, apiserver.CodeInternal,
			"the analytics query failed; the collector log has the cause")
		return
	}

	msg := "the analytics store failed to answer; retry later"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("the query took longer than query_timeout (%s); narrow the period or retry later", a.timeout)
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	apiserver.WriteError(w, http.StatusServiceUnavailable, apiserver.CodeOverloaded, msg)
}

func (a *api) context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.timeout)
}

func (a *api) debug(r *http.Request, q query, start time.Time, rows int) {
	if ce := a.logger.Check(zap.DebugLevel, "Query answered"); ce != nil {
		ce.Write(zap.String("path", r.URL.Path), zap.String("product_id", q.product),
			zap.Int("rows", rows), zap.Duration("duration", time.Since(start)))
	}
}

// health answers 200 once the collector's pipelines have all started, 503
// before.
func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	if !a.ready.Load() {
		w.Header().Set("Retry-After", "1")
		apiserver.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type funnelAnswer struct {
	ProductID string                 `json:"product_id"`
	From      analytics.Time         `json:"from"`
	To        analytics.Time         `json:"to"`
	Stages    []analytics.StageCount `json:"stages"`
}

func (a *api) funnel(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := a.begin(w, r, funnelParams, true)
	if !ok {
		return
	}
	ctx, cancel := a.context(r)
	defer cancel()

	stages, err := a.store.Funnel(ctx, q.filter, q.opts)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if stages == nil {
		stages = []analytics.StageCount{}
	}
	for i := range stages {
		stages[i].ConversionFromPrevious = tidy(stages[i].ConversionFromPrevious)
		stages[i].ConversionFromStart = tidy(stages[i].ConversionFromStart)
	}
	a.debug(r, q, start, len(stages))
	apiserver.WriteJSON(w, http.StatusOK, funnelAnswer{
		ProductID: q.product,
		From:      analytics.Time{Time: q.period.from},
		To:        analytics.Time{Time: q.period.to},
		Stages:    stages,
	})
}

type sessionsAnswer struct {
	Sessions []analytics.SessionSummary `json:"sessions"`
	Total    int64                      `json:"total"`
	Limit    int                        `json:"limit"`
	Offset   int                        `json:"offset"`
}

func (a *api) sessions(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := a.begin(w, r, sessionsParams, true)
	if !ok {
		return
	}
	params := q.params
	limit, err := parseLimit(params, defaultSessionsLimit)
	if err != nil {
		writeParamError(w, err)
		return
	}
	offset, err := parseOffset(params)
	if err != nil {
		writeParamError(w, err)
		return
	}
	q.filter.Outcome = params.Get("outcome")
	q.filter.UserID = params.Get("user_id")
	ctx, cancel := a.context(r)
	defer cancel()

	list, total, err := a.store.Sessions(ctx, q.filter, q.opts, limit, offset)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if list == nil {
		list = []analytics.SessionSummary{}
	}
	for i := range list {
		normalizeSummary(&list[i])
	}
	a.debug(r, q, start, len(list))
	apiserver.WriteJSON(w, http.StatusOK, sessionsAnswer{Sessions: list, Total: total, Limit: limit, Offset: offset})
}

type sessionAnswer struct {
	analytics.SessionSummary
	Events []analytics.StoredEvent `json:"events"`
}

func (a *api) session(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := a.begin(w, r, sessionParams, false)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if len(id) > event.MaxIDBytes {
		writeParamError(w, &paramError{param: "session id", msg: fmt.Sprintf(
			"%d bytes long, accepted values are at most %d bytes (no longer session_id is stored)", len(id), event.MaxIDBytes)})
		return
	}
	ctx, cancel := a.context(r)
	defer cancel()

	s, events, found, err := a.store.Session(ctx, q.product, id, q.opts)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if !found {
		apiserver.WriteError(w, http.StatusNotFound, apiserver.CodeNotFound,
			fmt.Sprintf("product %q has no session %q", q.product, id))
		return
	}
	if events == nil {
		events = []analytics.StoredEvent{}
	}
	normalizeSummary(&s)
	a.debug(r, q, start, len(events))
	apiserver.WriteJSON(w, http.StatusOK, sessionAnswer{SessionSummary: s, Events: events})
}

type economicsAnswer struct {
	ProductID string         `json:"product_id"`
	From      analytics.Time `json:"from"`
	To        analytics.Time `json:"to"`
	analytics.Economics
}

func (a *api) economics(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := a.begin(w, r, economicsParams, true)
	if !ok {
		return
	}
	ctx, cancel := a.context(r)
	defer cancel()

	e, err := a.store.Economics(ctx, q.filter, q.opts)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if e.RevenueByCurrency == nil {
		e.RevenueByCurrency = map[string]float64{}
	}
	tidyEconomics(&e)
	a.debug(r, q, start, 1)
	apiserver.WriteJSON(w, http.StatusOK, economicsAnswer{
		ProductID: q.product,
		From:      analytics.Time{Time: q.period.from},
		To:        analytics.Time{Time: q.period.to},
		Economics: e,
	})
}

type topicsAnswer struct {
	Topics []analytics.TopicRow `json:"topics"`
}

func (a *api) topics(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := a.begin(w, r, topicsParams, true)
	if !ok {
		return
	}
	limit, err := parseLimit(q.params, defaultTopicsLimit)
	if err != nil {
		writeParamError(w, err)
		return
	}
	ctx, cancel := a.context(r)
	defer cancel()

	rows, err := a.store.Topics(ctx, q.filter, q.opts, limit)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if rows == nil {
		rows = []analytics.TopicRow{}
	}
	tidyTopics(rows)
	a.debug(r, q, start, len(rows))
	apiserver.WriteJSON(w, http.StatusOK, topicsAnswer{Topics: rows})
}

// tidy rounds a sum or a ratio to 15 significant digits, the precision a
// float64 sum of prices keeps, so that 0.01436 is not written as
// 0.014360000000000001.
func tidy(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
	if err != nil {
		return x
	}
	return r
}

// margin is revenue minus cost, both rounded first: a margin computed from
// unrounded sums keeps their noise (-5.55e-17 where revenue equals cost),
// which rounding to significant digits cannot remove.
func margin(revenue, cost float64) float64 {
	return tidy(tidy(revenue) - tidy(cost))
}

// tidyTopics rounds the money figures and ratios of each row.
func tidyTopics(rows []analytics.TopicRow) {
	for i := range rows {
		t := &rows[i]
		t.MarginUSD = margin(t.RevenueUSD, t.TotalCostUSD)
		for _, v := range []*float64{&t.RevenueUSD, &t.TotalCostUSD, &t.ConversionRate, &t.AvgConversationDepth} {
			*v = tidy(*v)
		}
	}
}

// tidyEconomics rounds every money figure and ratio of e, and derives the
// margin figures again from the rounded revenue and cost.
func tidyEconomics(e *analytics.Economics) {
	e.GrossMarginUSD = margin(e.TotalRevenueUSD, e.TotalCostUSD)
	if e.GrossMarginPct != nil && e.TotalRevenueUSD != 0 {
		*e.GrossMarginPct = e.GrossMarginUSD / tidy(e.TotalRevenueUSD)
	}
	if e.Sessions > 0 {
		e.AvgMarginPerSession = e.GrossMarginUSD / float64(e.Sessions)
	}
	for _, v := range []*float64{
		&e.TotalRevenueUSD, &e.TotalCostUSD, &e.LLMCostUSD, &e.ToolCostUSD,
		&e.AvgRevenuePerSess, &e.AvgCostPerSession, &e.AvgMarginPerSession, &e.CacheSavingsUSD,
		e.GrossMarginPct, e.CostPerConversion,
	} {
		if v != nil {
			*v = tidy(*v)
		}
	}
	for k, v := range e.RevenueByCurrency {
		e.RevenueByCurrency[k] = tidy(v)
	}
}

// normalizeSummary writes empty lists and objects rather than null, and
// rounds the money sums.
func normalizeSummary(s *analytics.SessionSummary) {
	s.MarginUSD = margin(s.RevenueUSD, s.TotalCostUSD)
	for _, v := range []*float64{&s.TotalCostUSD, &s.RevenueUSD, &s.CacheSavingsUSD} {
		*v = tidy(*v)
	}
	if s.Outcomes == nil {
		s.Outcomes = []string{}
	}
	if s.Metadata == nil {
		s.Metadata = map[string]any{}
	}
}
