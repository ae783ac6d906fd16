// Package event defines the AgentPulse event model shared by the receiver,
// the processor and the exporter, and its encoding as OpenTelemetry log
// records, which is how events travel through a collector pipeline.
package event

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Event types defined by the HTTP API contract.
const (
	TypeMessageUser    = "message.user"
	TypeMessageAgent   = "message.agent"
	TypeLLMCall        = "action.llm_call"
	TypeToolCall       = "action.tool_call"
	TypeCacheHit       = "action.cache_hit"
	TypeOutcomePayment = "outcome.payment"
	TypeFeedbackExpl   = "feedback.explicit"
	TypeFeedbackImpl   = "feedback.implicit"
	TypeSessionEnd     = "session.end"

	OutcomePrefix = "outcome."
)

// Cost statuses of LLM and tool calls.
const (
	CostReported = "reported"
	CostComputed = "computed"
	CostUnpriced = "unpriced"
)

// Attribute keys of the log-record encoding. The product travels as a
// resource attribute, the event type as the record's event name and the
// timestamp as the record's timestamp.
const (
	AttrProductID  = "agentpulse.product_id"
	AttrEventID    = "agentpulse.event_id"
	AttrSessionID  = "agentpulse.session_id"
	AttrEventType  = "agentpulse.event_type"
	AttrUserID     = "agentpulse.user_id"
	AttrMetadata   = "agentpulse.metadata"
	AttrProperties = "agentpulse.properties"
	AttrTruncated  = "agentpulse.truncated"
	AttrCostUSD    = "agentpulse.cost_usd"
	AttrCostStatus = "agentpulse.cost_status"
	AttrAmountUSD  = "agentpulse.amount_usd"
	AttrTopic      = "agentpulse.topic"
)

// Event is one AgentPulse event. Metadata and Properties hold string,
// float64, int64 or bool values (Properties may hold nested maps and slices
// for custom outcomes).
type Event struct {
	EventID    string
	SessionID  string
	EventType  string
	Timestamp  time.Time
	UserID     string
	ProductID  string
	Metadata   map[string]any
	Properties map[string]any
	Truncated  bool

	// Filled in by the processor.
	CostUSD    *float64 // LLM and tool calls
	CostStatus string   // LLM and tool calls: reported, computed or unpriced
	AmountUSD  *float64 // payments whose currency has a rate
	Topic      string   // classifier's topic, when it found one
}

// IsOutcome reports whether the event type is an outcome, and its name.
func IsOutcome(eventType string) (string, bool) {
	name, ok := strings.CutPrefix(eventType, OutcomePrefix)
	return name, ok && name != ""
}

// AppendTo encodes the event as a new log record in sl.
func (e *Event) AppendTo(sl plog.ScopeLogs) plog.LogRecord {
	lr := sl.LogRecords().AppendEmpty()
	e.WriteTo(lr)
	return lr
}

// WriteTo writes the event into lr, replacing what lr held.
func (e *Event) WriteTo(lr plog.LogRecord) {
	lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
	lr.SetEventName(e.EventType)
	attrs := lr.Attributes()
	attrs.Clear()
	attrs.EnsureCapacity(8)
	attrs.PutStr(AttrEventID, e.EventID)
	attrs.PutStr(AttrEventType, e.EventType)
	attrs.PutStr(AttrUserID, e.UserID)
	attrs.PutStr(AttrProductID, e.ProductID)
	if e.SessionID != "" {
		attrs.PutStr(AttrSessionID, e.SessionID)
	}
	if len(e.Metadata) > 0 {
		putMap(attrs.PutEmptyMap(AttrMetadata), e.Metadata)
	}
	if len(e.Properties) > 0 {
		putMap(attrs.PutEmptyMap(AttrProperties), e.Properties)
	}
	if e.Truncated {
		attrs.PutBool(AttrTruncated, true)
	}
	e.writeDerived(attrs)
}

func (e *Event) writeDerived(attrs pcommon.Map) {
	if e.CostUSD != nil {
		attrs.PutDouble(AttrCostUSD, *e.CostUSD)
	}
	if e.CostStatus != "" {
		attrs.PutStr(AttrCostStatus, e.CostStatus)
	}
	if e.AmountUSD != nil {
		attrs.PutDouble(AttrAmountUSD, *e.AmountUSD)
	}
	if e.Topic != "" {
		attrs.PutStr(AttrTopic, e.Topic)
	}
}

// FromLogRecord decodes an event written by WriteTo. The product comes from
// the record's attribute, else from the resource's.
func FromLogRecord(res pcommon.Resource, lr plog.LogRecord) Event {
	attrs := lr.Attributes()
	e := Event{
		EventID:   str(attrs, AttrEventID),
		SessionID: str(attrs, AttrSessionID),
		EventType: str(attrs, AttrEventType),
		UserID:    str(attrs, AttrUserID),
		ProductID: str(attrs, AttrProductID),
		Timestamp: lr.Timestamp().AsTime().UTC(),
		Topic:     str(attrs, AttrTopic),
	}
	if e.EventType == "" {
		e.EventType = lr.EventName()
	}
	if e.ProductID == "" {
		e.ProductID = str(res.Attributes(), AttrProductID)
	}
	if v, ok := attrs.Get(AttrMetadata); ok && v.Type() == pcommon.ValueTypeMap {
		e.Metadata = v.Map().AsRaw()
	}
	if v, ok := attrs.Get(AttrProperties); ok && v.Type() == pcommon.ValueTypeMap {
		e.Properties = v.Map().AsRaw()
	}
	if v, ok := attrs.Get(AttrTruncated); ok {
		e.Truncated = v.Bool()
	}
	if v, ok := attrs.Get(AttrCostUSD); ok {
		f := v.Double()
		e.CostUSD = &f
	}
	e.CostStatus = str(attrs, AttrCostStatus)
	if v, ok := attrs.Get(AttrAmountUSD); ok {
		f := v.Double()
		e.AmountUSD = &f
	}
	return e
}

func str(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.Str()
	}
	return ""
}

func putMap(dst pcommon.Map, src map[string]any) {
	// FromRaw only fails on value types that decoding never produces.
	_ = dst.FromRaw(src)
}

// Float reads a numeric property as float64.
func Float(props map[string]any, key string) (float64, bool) {
	switch v := props[key].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	}
	return 0, false
}

// Int reads a numeric property as int64; floats with a fraction are not ints.
func Int(props map[string]any, key string) (int64, bool) {
	switch v := props[key].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// String reads a string property.
func String(props map[string]any, key string) string {
	s, _ := props[key].(string)
	return s
}
