package genai

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// EventMessage is the span event by which Annotate records one message
// event of a span: its id, type, session, user, length and topic, never its
// content. MapTraces reads it back, so a span whose content was removed
// (StripContent) still yields its messages.
const EventMessage = "agentpulse.message"

// Attributes Annotate writes besides the session and user ones: on call
// spans (event type, cost, cost status) and on span events (agentpulse.message
// and the business events of CONVENTION.md).
const (
	AttrEventID       = event.AttrEventID    // the event's id
	AttrEventType     = event.AttrEventType  // a call span's type; message.user or message.agent on a note
	AttrCostUSD       = event.AttrCostUSD    // a call's cost in US dollars
	AttrCostStatus    = event.AttrCostStatus // reported, computed or unpriced
	AttrAmountUSD     = event.AttrAmountUSD  // a payment converted to US dollars
	AttrTruncated     = event.AttrTruncated  // the message's content was cut
	AttrContentLength = "agentpulse.content_length"
)

// maxTopicBytes bounds a noted topic; a longer one is ignored.
const maxTopicBytes = 256

// readCostNote reads the cost Annotate wrote on a call span.
func readCostNote(attrs pcommon.Map, e *event.Event) {
	status := getStr(attrs, AttrCostStatus)
	switch status {
	case event.CostReported, event.CostComputed, event.CostUnpriced:
	default:
		return
	}
	e.CostStatus = status
	if v, ok := attrs.Get(AttrCostUSD); ok {
		if c, ok := number(v); ok && c >= 0 {
			e.CostUSD = &c
			return
		}
	}
	if status == event.CostUnpriced {
		zero := 0.0
		e.CostUSD = &zero
	}
}

// readEventNote applies what Annotate wrote on a business span event: the
// event's id (span events may have been removed since, so their positions
// no longer give it), session, user and US dollar amount.
func readEventNote(attrs pcommon.Map, e *event.Event) error {
	var errs []error
	if v, ok := attrs.Get(AttrEventID); ok {
		id, err := noteID(v, true)
		if err != nil {
			errs = append(errs, err)
		} else {
			e.EventID = id
		}
	}
	readIdentityNote(attrs, e)
	if v, ok := attrs.Get(AttrAmountUSD); ok {
		if f, ok := number(v); ok {
			e.AmountUSD = &f
		} else {
			errs = append(errs, fmt.Errorf("%s must be a finite number, got %q", AttrAmountUSD, short(v.AsString())))
		}
	}
	return errors.Join(errs...)
}

func readIdentityNote(attrs pcommon.Map, e *event.Event) {
	if v, ok := attrs.Get(AttrSessionID); ok {
		if s := cleanID(idString(v)); s != "" {
			e.SessionID = s
		}
	}
	if v, ok := attrs.Get(AttrUserID); ok {
		if s := cleanID(idString(v)); s != "" {
			e.UserID = s
		}
	}
}

// noteID reads an event id: a non-empty string of at most MaxIDBytes.
func noteID(v pcommon.Value, present bool) (string, error) {
	if !present {
		return "", fmt.Errorf("%s is required", AttrEventID)
	}
	s := ""
	if v.Type() == pcommon.ValueTypeStr {
		s = strings.TrimSpace(v.Str())
	}
	if s == "" || len(s) > MaxIDBytes || !utf8.ValidString(s) {
		return "", fmt.Errorf("%s must be a non-empty UTF-8 string of at most %d bytes, got %q", AttrEventID, MaxIDBytes, short(v.AsString()))
	}
	return s, nil
}

// addMessageNote maps an agentpulse.message span event. A message the span's
// content already gave (same id) takes the note's session, user, length
// and topic; otherwise the note alone makes the event, without content.
func (m *mapper) addMessageNote(src origin, base event.Event, ev ptrace.SpanEvent, index int, spanStart time.Time) error {
	attrs := ev.Attributes()
	id, err := noteID(attrs.Get(AttrEventID))
	if err != nil {
		return fmt.Errorf("%s: %w", EventMessage, err)
	}
	typ := getStr(attrs, AttrEventType)
	if typ != event.TypeMessageUser && typ != event.TypeMessageAgent {
		return fmt.Errorf("%s: %s must be %s or %s, got %q",
			EventMessage, AttrEventType, event.TypeMessageUser, event.TypeMessageAgent, short(typ))
	}
	ts := spanStart
	if t := ev.Timestamp(); t != 0 {
		ts = t.AsTime().UTC()
	}

	if i, dup := m.seen[id]; dup {
		e := &m.out[i].Event
		if ts.Before(e.Timestamp) {
			e.Timestamp = ts
		}
		applyMessageNote(attrs, e)
		return nil
	}
	e := base
	e.EventID, e.EventType, e.Timestamp = id, typ, ts
	e.Properties = map[string]any{}
	applyMessageNote(attrs, &e)
	m.seen[id] = len(m.out)
	m.add(src, e, false)
	m.out[len(m.out)-1].spanEvent = index + 1
	return nil
}

func applyMessageNote(attrs pcommon.Map, e *event.Event) {
	readIdentityNote(attrs, e)
	if v, ok := attrs.Get(AttrContentLength); ok {
		if n, ok := count(v); ok {
			e.Properties["content_length"] = n
		}
	}
	if v, ok := attrs.Get(AttrTruncated); ok && v.Type() == pcommon.ValueTypeBool {
		e.Truncated = e.Truncated || v.Bool()
	}
	if t := getStr(attrs, AttrTopic); t != "" && len(t) <= maxTopicBytes {
		e.Topic = strings.ToValidUTF8(t, "\uFFFD")
	}
}

// writeEventNote records a business event's id, session, user and dollar
// amount on the span event it came from.
func writeEventNote(attrs pcommon.Map, e *event.Event) {
	attrs.PutStr(AttrEventID, e.EventID)
	putIdentity(attrs, e)
	if e.AmountUSD != nil && !math.IsNaN(*e.AmountUSD) && !math.IsInf(*e.AmountUSD, 0) {
		attrs.PutDouble(AttrAmountUSD, *e.AmountUSD)
	}
}

// writeMessageNote fills an agentpulse.message span event for a message
// event; content is never written.
func writeMessageNote(ev ptrace.SpanEvent, e *event.Event) {
	ev.SetName(EventMessage)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
	attrs := ev.Attributes()
	attrs.Clear()
	attrs.PutStr(AttrEventID, e.EventID)
	attrs.PutStr(AttrEventType, e.EventType)
	putIdentity(attrs, e)
	if n, ok := event.Int(e.Properties, "content_length"); ok && n >= 0 {
		attrs.PutInt(AttrContentLength, n)
	}
	if e.Truncated {
		attrs.PutBool(AttrTruncated, true)
	}
	if e.Topic != "" {
		attrs.PutStr(AttrTopic, e.Topic)
	}
}

func putIdentity(attrs pcommon.Map, e *event.Event) {
	if e.SessionID != "" {
		attrs.PutStr(AttrSessionID, e.SessionID)
	}
	if e.UserID != "" {
		attrs.PutStr(AttrUserID, e.UserID)
	}
}
