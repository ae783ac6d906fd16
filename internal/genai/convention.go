package genai

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/agentpulse/agentpulse/internal/event"
)

// Span event (or log record event) names of the agentpulse.* convention.
const (
	EventOutcome    = "agentpulse.outcome"
	EventPayment    = "agentpulse.payment"
	EventFeedback   = "agentpulse.feedback"
	EventSessionEnd = "agentpulse.session.end"
)

// Attributes of those events.
const (
	AttrOutcomeName      = "agentpulse.outcome.name"
	AttrPaymentAmount    = "agentpulse.payment.amount"
	AttrPaymentCurrency  = "agentpulse.payment.currency"
	AttrFeedbackKind     = "agentpulse.feedback.kind"
	AttrFeedbackValue    = "agentpulse.feedback.value"
	AttrFeedbackScore    = "agentpulse.feedback.score"
	AttrSessionEndReason = "agentpulse.session.end_reason"
)

var (
	outcomeSlug  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
)

// businessEvents builds, per event name, the AgentPulse event type and
// properties of one agentpulse.* event.
var businessEvents = map[string]func(attrs pcommon.Map) (string, map[string]any, error){
	EventOutcome:    outcomeEvent,
	EventPayment:    paymentEvent,
	EventFeedback:   feedbackEvent,
	EventSessionEnd: sessionEndEvent,
}

// businessEvent maps one agentpulse.* event; ok is false for any other name.
func businessEvent(name string, attrs pcommon.Map) (typ string, props map[string]any, ok bool, err error) {
	build, ok := businessEvents[name]
	if !ok {
		return "", nil, false, nil
	}
	typ, props, err = build(attrs)
	return typ, props, true, err
}

func outcomeEvent(attrs pcommon.Map) (string, map[string]any, error) {
	raw := getStr(attrs, AttrOutcomeName)
	name := strings.ToLower(raw)
	if !outcomeSlug.MatchString(name) {
		return "", nil, fmt.Errorf("%s: %s must be a lowercase slug (letters, digits, _ or -, up to 64), got %q",
			EventOutcome, AttrOutcomeName, short(raw))
	}
	props := map[string]any{}
	for k, v := range attrs.All() {
		key, ok := strings.CutPrefix(k, "agentpulse.outcome.")
		if !ok || k == AttrOutcomeName || key == "" {
			continue
		}
		if x, ok := plainValue(v); ok {
			props[key] = x
		}
	}
	return event.OutcomePrefix + name, props, nil
}

func paymentEvent(attrs pcommon.Map) (string, map[string]any, error) {
	var errs []error
	v, ok := attrs.Get(AttrPaymentAmount)
	amount, isNum := 0.0, false
	if ok {
		amount, isNum = number(v)
	}
	if !isNum {
		errs = append(errs, fmt.Errorf("%s: %s must be a finite number, got %q", EventPayment, AttrPaymentAmount, short(valueString(v, ok))))
	}
	cur := "USD"
	if c, ok := attrs.Get(AttrPaymentCurrency); ok {
		cur = strings.ToUpper(strings.TrimSpace(c.AsString()))
		if !currencyCode.MatchString(cur) {
			errs = append(errs, fmt.Errorf("%s: %s must be an ISO 4217 code such as USD, got %q", EventPayment, AttrPaymentCurrency, short(c.AsString())))
		}
	}
	if len(errs) > 0 {
		return "", nil, errors.Join(errs...)
	}
	return event.TypeOutcomePayment, map[string]any{"amount": amount, "currency": cur}, nil
}

func feedbackEvent(attrs pcommon.Map) (string, map[string]any, error) {
	typ := event.TypeFeedbackExpl
	switch k := strings.ToLower(getStr(attrs, AttrFeedbackKind)); k {
	case "", "explicit":
	case "implicit":
		typ = event.TypeFeedbackImpl
	default:
		return "", nil, fmt.Errorf("%s: %s must be explicit or implicit, got %q", EventFeedback, AttrFeedbackKind, short(k))
	}
	props := map[string]any{}
	if v, ok := attrs.Get(AttrFeedbackValue); ok {
		if s := strings.ToValidUTF8(strings.TrimSpace(v.AsString()), "\uFFFD"); s != "" {
			props["value"] = s
		}
	}
	if v, ok := attrs.Get(AttrFeedbackScore); ok {
		f, isNum := number(v)
		if !isNum {
			return "", nil, fmt.Errorf("%s: %s must be a finite number, got %q", EventFeedback, AttrFeedbackScore, short(v.AsString()))
		}
		props["score"] = f
	}
	if len(props) == 0 {
		return "", nil, fmt.Errorf("%s: needs %s or %s", EventFeedback, AttrFeedbackValue, AttrFeedbackScore)
	}
	return typ, props, nil
}

func sessionEndEvent(attrs pcommon.Map) (string, map[string]any, error) {
	props := map[string]any{}
	if r := getStr(attrs, AttrSessionEndReason); r != "" {
		props["reason"] = strings.ToValidUTF8(r, "\uFFFD")
	}
	return event.TypeSessionEnd, props, nil
}

// plainValue converts an attribute to a property value (string, int64,
// float64, bool); nested values are kept as their JSON text.
func plainValue(v pcommon.Value) (any, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return strings.ToValidUTF8(v.Str(), "\uFFFD"), true
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		return number(v)
	case pcommon.ValueTypeBool:
		return v.Bool(), true
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return strings.ToValidUTF8(v.AsString(), "\uFFFD"), true
	}
	return nil, false
}

func valueString(v pcommon.Value, ok bool) string {
	if !ok {
		return "(missing)"
	}
	return v.AsString()
}

// short bounds a bad value quoted in an error message.
func short(s string) string {
	const limit = 64
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
