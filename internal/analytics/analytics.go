// Package analytics defines the answers of the query API and the interface
// of the store that computes them. The JSON tags are the HTTP contract of
// ../shared/API.md.
package analytics

import (
	"context"
	"time"
)

// TimeLayout is how every time is written on output: RFC3339 in UTC with
// millisecond precision.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time marshals as TimeLayout in UTC.
type Time struct{ time.Time }

// MarshalJSON writes the time in UTC with millisecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// Stage is one funnel stage and the rule by which a session reaches it.
// The built-in names reached, engaged, artifact and converted carry their
// rules from the contract; any other stage is reached by an outcome event of
// its name unless the rule fields say otherwise.
type Stage struct {
	Name string `mapstructure:"name"`
	// Outcome: reached by an event of type outcome.<Outcome>.
	Outcome string `mapstructure:"outcome"`
	// EventType: reached by any event of this type.
	EventType string `mapstructure:"event_type"`
	// MinConversationDepth: reached at this many message.user events.
	MinConversationDepth int `mapstructure:"min_conversation_depth"`
	// Converted: reached when the session is converted.
	Converted bool `mapstructure:"converted"`
}

// DefaultStages are the funnel of the contract.
func DefaultStages() []Stage {
	return []Stage{{Name: "reached"}, {Name: "engaged"}, {Name: "artifact"}, {Name: "converted"}}
}

// Filter selects sessions: those of ProductID whose first event is in
// [From, To), optionally narrowed by topic, outcome and user.
type Filter struct {
	ProductID string
	From, To  time.Time
	Topic     string
	Outcome   string
	UserID    string
}

// Options are the product's settings that shape session summaries.
type Options struct {
	Stages         []Stage
	SessionTimeout time.Duration
	Now            time.Time // the moment open sessions are judged against
}

// SessionSummary is the contract's session summary.
type SessionSummary struct {
	SessionID         string         `json:"session_id"`
	UserID            string         `json:"user_id"`
	ProductID         string         `json:"product_id"`
	StartedAt         Time           `json:"started_at"`
	LastEventAt       Time           `json:"last_event_at"`
	DurationMS        int64          `json:"duration_ms"`
	EndedAt           *Time          `json:"ended_at"`
	Status            string         `json:"status"`
	ConversationDepth int64          `json:"conversation_depth"`
	LLMCalls          int64          `json:"llm_calls"`
	ToolCalls         int64          `json:"tool_calls"`
	UnpricedLLMCalls  int64          `json:"unpriced_llm_calls"`
	TotalCostUSD      float64        `json:"total_cost_usd"`
	RevenueUSD        float64        `json:"revenue_usd"`
	MarginUSD         float64        `json:"margin_usd"`
	CacheSavingsUSD   float64        `json:"cache_savings_usd"`
	Outcomes          []string       `json:"outcomes"`
	Converted         bool           `json:"converted"`
	FunnelStage       string         `json:"funnel_stage"`
	Topic             string         `json:"topic"`
	Metadata          map[string]any `json:"metadata"`
}

// StoredEvent is an event as ingested, with the server's cost filled in.
type StoredEvent struct {
	EventID    string         `json:"event_id"`
	SessionID  string         `json:"session_id"`
	EventType  string         `json:"event_type"`
	Timestamp  Time           `json:"timestamp"`
	UserID     string         `json:"user_id"`
	ProductID  string         `json:"product_id"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	Truncated  bool           `json:"truncated,omitempty"`
}

// StageCount is the number of sessions at a funnel stage or beyond it.
type StageCount struct {
	Name                   string  `json:"name"`
	Sessions               int64   `json:"sessions"`
	ConversionFromPrevious float64 `json:"conversion_from_previous"`
	ConversionFromStart    float64 `json:"conversion_from_start"`
}

// Economics is the answer of /v1/economics without the envelope fields.
type Economics struct {
	Sessions            int64              `json:"sessions"`
	ConvertedSessions   int64              `json:"converted_sessions"`
	TotalRevenueUSD     float64            `json:"total_revenue_usd"`
	TotalCostUSD        float64            `json:"total_cost_usd"`
	LLMCostUSD          float64            `json:"llm_cost_usd"`
	ToolCostUSD         float64            `json:"tool_cost_usd"`
	GrossMarginUSD      float64            `json:"gross_margin_usd"`
	GrossMarginPct      *float64           `json:"gross_margin_pct"`
	AvgRevenuePerSess   float64            `json:"avg_revenue_per_session"`
	AvgCostPerSession   float64            `json:"avg_cost_per_session"`
	AvgMarginPerSession float64            `json:"avg_margin_per_session"`
	CostPerConversion   *float64           `json:"cost_per_conversion"`
	CacheSavingsUSD     float64            `json:"cache_savings_usd"`
	UnpricedLLMCalls    int64              `json:"unpriced_llm_calls"`
	RevenueByCurrency   map[string]float64 `json:"revenue_by_currency"`
}

// TopicRow is one row of /v1/topics.
type TopicRow struct {
	Topic                string  `json:"topic"`
	Sessions             int64   `json:"sessions"`
	ConvertedSessions    int64   `json:"converted_sessions"`
	ConversionRate       float64 `json:"conversion_rate"`
	RevenueUSD           float64 `json:"revenue_usd"`
	TotalCostUSD         float64 `json:"total_cost_usd"`
	MarginUSD            float64 `json:"margin_usd"`
	AvgConversationDepth float64 `json:"avg_conversation_depth"`
}

// Querier computes the analytics answers. Implementations run SQL in
// ClickHouse; every answer counts an event_id once per product.
type Querier interface {
	// Funnel counts the sessions at each stage of opts.Stages or beyond it.
	Funnel(ctx context.Context, f Filter, opts Options) ([]StageCount, error)
	// Sessions lists summaries ordered by started_at descending, then
	// session_id, and the total number of sessions that match f.
	Sessions(ctx context.Context, f Filter, opts Options, limit, offset int) ([]SessionSummary, int64, error)
	// Session returns one session and its events in time order (ties by
	// event_id); found is false when the product has no such session.
	Session(ctx context.Context, productID, sessionID string, opts Options) (s SessionSummary, events []StoredEvent, found bool, err error)
	// Economics sums revenue and cost over the sessions of f.
	Economics(ctx context.Context, f Filter, opts Options) (Economics, error)
	// Topics groups the sessions of f by topic, ordered by sessions
	// descending, then topic.
	Topics(ctx context.Context, f Filter, opts Options, limit int) ([]TopicRow, error)
}
