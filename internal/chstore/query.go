package chstore

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

var _ analytics.Querier = (*Store)(nil)

//go:embed queries/*.sql
var queryFiles embed.FS

// queries are the SQL templates of queries/, one file per query. They only
// receive sqlText values, which are static or quoted.
var queries = template.Must(template.New("queries").Option("missingkey=error").ParseFS(queryFiles, "queries/*.sql"))

// DefaultSessionTimeout applies when Options.SessionTimeout is not set.
const DefaultSessionTimeout = 30 * time.Minute

// queryData fills the templates.
type queryData struct {
	DB           sqlText
	Product      sqlText
	NowMS        sqlText
	TimeoutMS    sqlText
	EventWhere   sqlText // more conditions on the events summarized, each starting with AND
	CopyWhere    sqlText // more conditions on the event_copies rows that find them
	SessionWhere sqlText // more conditions on the stored summaries, each starting with AND
	Live         bool    // summarize the sessions written since the last refresh from events
	Where        sqlText // condition on the session rows
	StageIndex   sqlText // index of the furthest stage reached, -1 for none
	StageCounts  sqlText
	SessionID    sqlText
	Limit        sqlText
	Offset       sqlText
	HeadRows     sqlText // offset + limit, when the session list narrows its read to them

	// Paged is this query narrowed to the sessions of one page of the
	// session list and those that start with or after them.
	Paged *queryData

	// The refresh of stored summaries.
	FromMS  sqlText
	ToMS    sqlText
	Version sqlText
}

func render(name string, data *queryData) (sqlText, error) {
	var b bytes.Buffer
	if err := queries.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("failed to build query %s: %w", name, err)
	}
	return sqlText(b.String()), nil
}

// normalizeOptions fills in the contract's defaults: the default funnel,
// a 30 minute timeout and the current time.
func normalizeOptions(opts analytics.Options) analytics.Options {
	if len(opts.Stages) == 0 {
		opts.Stages = analytics.DefaultStages()
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	return opts
}

// baseData prepares the session query for a product and options.
func (s *Store) baseData(productID string, opts analytics.Options) (*queryData, analytics.Options, error) {
	opts = normalizeOptions(opts)
	index, err := stageSQL(opts.Stages)
	if err != nil {
		return nil, opts, err
	}
	return &queryData{
		DB:         s.db,
		Product:    quoteValue(productID),
		NowMS:      quoteMillis(opts.Now),
		TimeoutMS:  quoteInt(opts.SessionTimeout.Milliseconds()),
		Where:      "1",
		StageIndex: index,
		Live:       !s.refreshed(),
	}, opts, nil
}

// filterData prepares the session query for a filter.
func (s *Store) filterData(f analytics.Filter, opts analytics.Options) (*queryData, analytics.Options, error) {
	d, opts, err := s.baseData(f.ProductID, opts)
	if err != nil {
		return nil, opts, err
	}
	where := []sqlText{"1"}
	if !f.From.IsZero() {
		where = append(where, "started_ms >= "+quoteMillis(f.From))
		d.SessionWhere += " AND started_ms >= " + quoteMillis(f.From)
	}
	if !f.To.IsZero() {
		where = append(where, "started_ms < "+quoteMillis(f.To))
		d.SessionWhere += " AND started_ms < " + quoteMillis(f.To)
	}
	if f.Topic != "" {
		where = append(where, "session_topic = "+quoteValue(f.Topic))
	}
	if f.Outcome != "" {
		where = append(where, "has(outcomes, "+quoteValue(f.Outcome)+")")
	}
	if f.UserID != "" {
		where = append(where, "session_user = "+quoteValue(f.UserID))
		d.SessionWhere += " AND session_user = " + quoteValue(f.UserID)
	}
	d.Where = joinSQL(where, " AND ")
	return d, opts, nil
}

// stageSQL turns the funnel stages into the expression of the furthest
// stage reached. A stage with rule fields needs all of them; one without
// uses the built-in rule of its name, or else an outcome.<name> event.
func stageSQL(stages []analytics.Stage) (index sqlText, err error) {
	var errs []error
	seen := map[string]bool{}
	conds := make([]sqlText, len(stages))
	for i, st := range stages {
		if st.Name == "" {
			errs = append(errs, fmt.Errorf("funnel stage %d has no name", i+1))
		} else if seen[st.Name] {
			errs = append(errs, fmt.Errorf("funnel stage %q is listed twice", st.Name))
		}
		seen[st.Name] = true
		if st.MinConversationDepth < 0 {
			errs = append(errs, fmt.Errorf("funnel stage %q: min_conversation_depth must not be negative", st.Name))
		}

		var parts []sqlText
		if st.Outcome != "" {
			parts = append(parts, "has(outcomes, "+quoteValue(st.Outcome)+")")
		}
		if st.EventType != "" {
			parts = append(parts, "has(event_types, "+quoteValue(st.EventType)+")")
		}
		if st.MinConversationDepth > 0 {
			parts = append(parts, "conversation_depth >= "+quoteInt(int64(st.MinConversationDepth)))
		}
		if st.Converted {
			parts = append(parts, "converted")
		}
		if len(parts) == 0 {
			parts = append(parts, builtinStage(st.Name))
		}
		conds[i] = "(" + joinSQL(parts, " AND ") + ")"
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}

	var b strings.Builder
	b.WriteString("toInt64(multiIf(")
	for i := len(conds) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "%s, %d, ", conds[i], i)
	}
	b.WriteString("-1))")
	return sqlText(b.String()), nil
}

func builtinStage(name string) sqlText {
	switch name {
	case "reached":
		return "true"
	case "engaged":
		return "conversation_depth >= 2"
	case "artifact":
		return "has(outcomes, 'artifact')"
	case "converted":
		return "converted"
	}
	return "has(outcomes, " + quoteValue(name) + ")"
}

// Funnel implements analytics.Querier.
func (s *Store) Funnel(ctx context.Context, f analytics.Filter, opts analytics.Options) ([]analytics.StageCount, error) {
	d, opts, err := s.filterData(f, opts)
	if err != nil {
		return nil, err
	}
	counts := make([]sqlText, len(opts.Stages))
	for i := range opts.Stages {
		counts[i] = sqlText(fmt.Sprintf("toInt64(countIf(stage_index >= %d)) AS stage_%d", i, i))
	}
	d.StageCounts = joinSQL(counts, ", ")
	sql, err := render("funnel.sql", d)
	if err != nil {
		return nil, err
	}

	values := make([]int64, len(opts.Stages))
	dest := make([]any, len(values))
	for i := range values {
		dest[i] = &values[i]
	}
	if err := s.query(ctx, sql, func(r resultRows) error { return r.Scan(dest...) }); err != nil {
		return nil, fmt.Errorf("failed to compute the funnel: %w", err)
	}

	out := make([]analytics.StageCount, len(opts.Stages))
	for i, st := range opts.Stages {
		out[i] = analytics.StageCount{
			Name:                st.Name,
			Sessions:            values[i],
			ConversionFromStart: ratio(values[i], values[0]),
		}
		if i == 0 {
			out[i].ConversionFromPrevious = ratio(values[0], values[0])
		} else {
			out[i].ConversionFromPrevious = ratio(values[i], values[i-1])
		}
	}
	return out, nil
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Economics implements analytics.Querier.
func (s *Store) Economics(ctx context.Context, f analytics.Filter, opts analytics.Options) (analytics.Economics, error) {
	var e analytics.Economics
	d, _, err := s.filterData(f, opts)
	if err != nil {
		return e, err
	}
	sql, err := render("economics.sql", d)
	if err != nil {
		return e, err
	}
	var currencies []string
	var amounts []float64
	err = s.query(ctx, sql, func(r resultRows) error {
		return r.Scan(&e.Sessions, &e.ConvertedSessions, &e.TotalRevenueUSD, &e.TotalCostUSD,
			&e.LLMCostUSD, &e.ToolCostUSD, &e.GrossMarginUSD, &e.GrossMarginPct,
			&e.AvgRevenuePerSess, &e.AvgCostPerSession, &e.AvgMarginPerSession, &e.CostPerConversion,
			&e.CacheSavingsUSD, &e.UnpricedLLMCalls, &currencies, &amounts)
	})
	if err != nil {
		return e, fmt.Errorf("failed to compute economics: %w", err)
	}
	e.RevenueByCurrency = make(map[string]float64, len(currencies))
	for i, c := range currencies {
		if i < len(amounts) {
			e.RevenueByCurrency[c] = amounts[i]
		}
	}
	return e, nil
}

// Topics implements analytics.Querier.
func (s *Store) Topics(ctx context.Context, f analytics.Filter, opts analytics.Options, limit int) ([]analytics.TopicRow, error) {
	if limit < 1 {
		return nil, fmt.Errorf("limit must be at least 1, got %d", limit)
	}
	d, _, err := s.filterData(f, opts)
	if err != nil {
		return nil, err
	}
	d.Limit = quoteInt(int64(limit))
	sql, err := render("topics.sql", d)
	if err != nil {
		return nil, err
	}
	out := []analytics.TopicRow{}
	err = s.query(ctx, sql, func(r resultRows) error {
		var t analytics.TopicRow
		if err := r.Scan(&t.Topic, &t.Sessions, &t.ConvertedSessions, &t.ConversionRate,
			&t.RevenueUSD, &t.TotalCostUSD, &t.MarginUSD, &t.AvgConversationDepth); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to group sessions by topic: %w", err)
	}
	return out, nil
}

// summaryRow is the scan target of the "summary" columns.
type summaryRow struct {
	s          analytics.SessionSummary
	startedMS  int64
	lastMS     int64
	endedMS    *int64
	ended      bool
	stageIndex int64
	metaKeys   []string
	metaValues []string // raw JSON
}

func (r *summaryRow) dest() []any {
	return []any{&r.s.SessionID, &r.s.UserID, &r.startedMS, &r.lastMS, &r.s.DurationMS, &r.endedMS, &r.ended,
		&r.s.ConversationDepth, &r.s.LLMCalls, &r.s.ToolCalls, &r.s.UnpricedLLMCalls, &r.s.TotalCostUSD,
		&r.s.RevenueUSD, &r.s.MarginUSD, &r.s.CacheSavingsUSD, &r.s.Outcomes, &r.s.Converted, &r.stageIndex,
		&r.s.Topic, &r.metaKeys, &r.metaValues}
}

// summary completes the scanned row; metadata values are the raw JSON of
// the latest value of each key.
func (r *summaryRow) summary(productID string, stages []analytics.Stage) (analytics.SessionSummary, error) {
	s := r.s
	s.ProductID = productID
	s.StartedAt = millisTime(r.startedMS)
	s.LastEventAt = millisTime(r.lastMS)
	s.Status = "active"
	if r.ended {
		s.Status = "ended"
	}
	if r.endedMS != nil {
		t := millisTime(*r.endedMS)
		s.EndedAt = &t
	}
	if r.stageIndex >= 0 && int(r.stageIndex) < len(stages) {
		s.FunnelStage = stages[r.stageIndex].Name
	}
	if s.Outcomes == nil {
		s.Outcomes = []string{}
	}
	s.Metadata = make(map[string]any, len(r.metaKeys))
	for i, k := range r.metaKeys {
		if i >= len(r.metaValues) {
			break
		}
		v, err := decodeJSON(r.metaValues[i])
		if err != nil {
			return s, fmt.Errorf("metadata %q of session %q: %w", k, s.SessionID, err)
		}
		s.Metadata[k] = v
	}
	return s, nil
}

func millisTime(ms int64) analytics.Time {
	return analytics.Time{Time: time.UnixMilli(ms).UTC()}
}

// maxHeadRows bounds offset + limit for which the session list first finds
// the start time of the page's last session (an array of that many times is
// kept while counting); deeper pages sort every matching session. A
// variable for tests.
var maxHeadRows int64 = 100_000

// Sessions implements analytics.Querier.
func (s *Store) Sessions(
	ctx context.Context,
	f analytics.Filter,
	opts analytics.Options,
	limit, offset int,
) ([]analytics.SessionSummary, int64, error) {
	if limit < 1 {
		return nil, 0, fmt.Errorf("limit must be at least 1, got %d", limit)
	}
	if offset < 0 {
		return nil, 0, fmt.Errorf("offset must not be negative, got %d", offset)
	}
	d, opts, err := s.filterData(f, opts)
	if err != nil {
		return nil, 0, err
	}
	d.Limit = quoteInt(int64(limit))
	d.Offset = quoteInt(int64(offset))
	paged := *d
	// Compared without adding, which could overflow for an offset near
	// the largest integer.
	if int64(offset) <= maxHeadRows-int64(limit) {
		head := int64(offset) + int64(limit)
		// The page is among the head newest sessions: the ones that start
		// at or after the head-th newest. Ties at that time are all kept,
		// so the order by session_id below them stays exact.
		d.HeadRows = quoteInt(head)
		paged.Where += " AND started_ms >= head.2"
		paged.SessionWhere += " AND started_ms >= head.2"
	}
	d.Paged = &paged
	sql, err := render("session_list.sql", d)
	if err != nil {
		return nil, 0, err
	}

	out := []analytics.SessionSummary{}
	var total int64
	err = s.query(ctx, sql, func(r resultRows) error {
		var sr summaryRow
		if err := r.Scan(append(sr.dest(), &total)...); err != nil {
			return err
		}
		sum, err := sr.summary(f.ProductID, opts.Stages)
		if err != nil {
			return err
		}
		out = append(out, sum)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("failed to list sessions: %w", err)
	}
	if len(out) == 0 && offset > 0 {
		// The count comes with the rows only; a page past the end
		// needs the count on its own.
		if total, err = s.countSessions(ctx, d); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

func (s *Store) countSessions(ctx context.Context, d *queryData) (int64, error) {
	sql, err := render("session_count.sql", d)
	if err != nil {
		return 0, err
	}
	var total int64
	if err := s.query(ctx, sql, func(r resultRows) error { return r.Scan(&total) }); err != nil {
		return 0, fmt.Errorf("failed to count sessions: %w", err)
	}
	return total, nil
}

// Session implements analytics.Querier.
func (s *Store) Session(
	ctx context.Context,
	productID, sessionID string,
	opts analytics.Options,
) (analytics.SessionSummary, []analytics.StoredEvent, bool, error) {
	var none analytics.SessionSummary
	d, opts, err := s.baseData(productID, opts)
	if err != nil {
		return none, nil, false, err
	}
	d.SessionID = quoteValue(sessionID)
	d.EventWhere = " AND session_id = " + d.SessionID
	d.CopyWhere = " AND session_id = " + d.SessionID
	d.SessionWhere = " AND session_id = " + d.SessionID
	sql, err := render("session_detail.sql", d)
	if err != nil {
		return none, nil, false, err
	}
	var sums []analytics.SessionSummary
	err = s.query(ctx, sql, func(r resultRows) error {
		var sr summaryRow
		if err := r.Scan(sr.dest()...); err != nil {
			return err
		}
		sum, err := sr.summary(productID, opts.Stages)
		if err != nil {
			return err
		}
		sums = append(sums, sum)
		return nil
	})
	if err != nil {
		return none, nil, false, fmt.Errorf("failed to summarize session: %w", err)
	}
	if len(sums) == 0 {
		return none, nil, false, nil
	}
	events, err := s.sessionEvents(ctx, d)
	if err != nil {
		return none, nil, false, err
	}
	return sums[0], events, true, nil
}

func (s *Store) sessionEvents(ctx context.Context, d *queryData) ([]analytics.StoredEvent, error) {
	sql, err := render("session_events.sql", d)
	if err != nil {
		return nil, err
	}
	events := []analytics.StoredEvent{}
	err = s.query(ctx, sql, func(r resultRows) error {
		var e analytics.StoredEvent
		var ms int64
		var metadata, properties, costStatus string
		var cost *float64
		if err := r.Scan(&e.EventID, &e.SessionID, &e.EventType, &ms, &e.UserID, &e.ProductID,
			&metadata, &properties, &e.Truncated, &cost, &costStatus); err != nil {
			return err
		}
		e.Timestamp = millisTime(ms)
		var err error
		if e.Metadata, err = decodeObject(metadata); err != nil {
			return fmt.Errorf("metadata of event %q: %w", e.EventID, err)
		}
		if e.Properties, err = decodeObject(properties); err != nil {
			return fmt.Errorf("properties of event %q: %w", e.EventID, err)
		}
		if e.EventType == event.TypeLLMCall || e.EventType == event.TypeToolCall {
			if e.Properties == nil {
				e.Properties = map[string]any{}
			}
			if cost != nil {
				e.Properties["cost_usd"] = *cost
			} else {
				e.Properties["cost_usd"] = nil
			}
			e.Properties["cost_status"] = costStatus
		}
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to read session events: %w", err)
	}
	return events, nil
}

// decodeObject reads a stored JSON object; an empty one is nil.
func decodeObject(s string) (map[string]any, error) {
	v, err := decodeJSON(s)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("stored value is not an object: %.40q", s)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// decodeJSON reads a stored JSON value with numbers as int64 when they are
// integers and float64 otherwise, as the event model holds them.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = numbers(val)
		}
	case []any:
		for i, val := range x {
			x[i] = numbers(val)
		}
	}
	return v
}
