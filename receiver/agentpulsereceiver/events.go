package agentpulsereceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentpulse/agentpulse/internal/event"
)

// Bounds of what an event may hold; beyond them the event is rejected.
const (
	// maxIDBytes bounds ids, which are never truncated.
	maxIDBytes = 1024
	// maxDepth bounds the nesting of properties and metadata, so that an
	// accepted event always fits the pipeline's encodings.
	maxDepth = 16
	// maxAmount bounds money values (USD or a payment's currency), so that
	// sums over a product stay exact and finite.
	maxAmount = 1e12
	// maxTokens bounds each token count.
	maxTokens = 1 << 40
)

// Timestamps must fall in the years the store can hold.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
)

// rejection is one invalid event of a batch.
type rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Error   string `json:"error"`
}

// requestError refuses a whole request.
type requestError struct {
	status int
	code   string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

type limits struct {
	maxEvents      int
	maxFutureSkew  time.Duration
	maxStringBytes int
}

var (
	knownTypes = map[string]bool{
		event.TypeMessageUser: true, event.TypeMessageAgent: true,
		event.TypeLLMCall: true, event.TypeToolCall: true, event.TypeCacheHit: true,
		event.TypeFeedbackExpl: true, event.TypeFeedbackImpl: true,
		event.TypeSessionEnd: true,
	}
	outcomeName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	tokenKeys    = []string{"input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens"}
	// Non-negative numbers.
	amountKeys = []string{"duration_ms", "cost_usd", "saved_cost_usd", "content_length"}
	// untruncated property strings, besides ids.
	keepWhole = map[string]bool{"model": true}
)

// stringProps are the properties of each event type that the contract says
// are strings; another JSON type there is an error, not a value to store.
var stringProps = map[string][]string{
	event.TypeMessageUser:  {"content"},
	event.TypeMessageAgent: {"content"},
	event.TypeLLMCall:      {"model", "provider"},
	event.TypeToolCall:     {"tool_name"},
	event.TypeCacheHit:     {"cache_name"},
	event.TypeFeedbackExpl: {"value"},
	event.TypeFeedbackImpl: {"value"},
	event.TypeSessionEnd:   {"reason"},
}

// decodeBatch reads a body of the form {"events": [...]}. Valid events are
// returned; each invalid one is described in the rejections. product is the
// key's product: an event naming another one refuses the whole request.
func decodeBatch(body []byte, product string, now time.Time, l limits) ([]event.Event, []rejection, error) {
	values, ok := parseBatch(body)
	if !ok {
		// Anything but the usual shape, invalid JSON included, goes
		// through encoding/json for its exact error messages.
		var envelope struct {
			Events *[]json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(body, &envelope); err != nil {
			return nil, nil, &requestError{400, "invalid_request", "body is not valid JSON of the form {\"events\": [...]}: " + jsonErr(err)}
		}
		if envelope.Events == nil {
			return nil, nil, &requestError{400, "invalid_request", "body must be an object with an \"events\" array"}
		}
		raws := *envelope.Events
		if len(raws) > l.maxEvents {
			return nil, nil, &requestError{413, "payload_too_large", fmt.Sprintf("%d events in one request; the limit is %d", len(raws), l.maxEvents)}
		}
		values = make([]any, len(raws))
		for i, raw := range raws {
			values[i] = decodeObject(raw)
		}
	}
	if len(values) > l.maxEvents {
		return nil, nil, &requestError{413, "payload_too_large", fmt.Sprintf("%d events in one request; the limit is %d", len(values), l.maxEvents)}
	}

	events := make([]event.Event, 0, len(values))
	var rejected []rejection
	for i, v := range values {
		m, _ := v.(map[string]any)
		e, err := decodeEvent(m, product, now, l)
		var reqErr *requestError
		if errors.As(err, &reqErr) {
			return nil, nil, fmt.Errorf("event %d: %w", i, err)
		}
		if err != nil {
			rejected = append(rejected, rejection{Index: i, EventID: e.EventID, Error: err.Error()})
			continue
		}
		events = append(events, e)
	}
	return events, rejected, nil
}

// decodeObject decodes one event of the slow path; nil when it is not a
// JSON object.
func decodeObject(raw json.RawMessage) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	return m
}

// decodeEvent checks one event; m is nil when the event is not an object.
func decodeEvent(m map[string]any, product string, now time.Time, l limits) (event.Event, error) {
	var e event.Event
	if m == nil {
		return e, errors.New("event must be a JSON object")
	}

	var errs []string
	id := func(key string, required bool) string {
		v, present := m[key]
		s, ok := v.(string)
		switch {
		case !present || v == nil:
			if required {
				errs = append(errs, key+" is required")
			}
		case !ok:
			errs = append(errs, key+" must be a string")
		case s == "" && required:
			errs = append(errs, key+" must not be empty")
		case len(s) > maxIDBytes:
			errs = append(errs, fmt.Sprintf("%s is longer than %d bytes", key, maxIDBytes))
		}
		return s
	}
	e.EventID = id("event_id", true)
	e.SessionID = id("session_id", false)
	e.EventType = id("event_type", true)
	e.UserID = id("user_id", true)
	if p := id("product_id", false); p != "" && p != product {
		return e, &requestError{403, "forbidden", fmt.Sprintf("product_id %q is not the product of this key", p)}
	}
	e.ProductID = product

	if e.EventType != "" && !knownTypes[e.EventType] && e.EventType != event.TypeOutcomePayment {
		if name, ok := event.IsOutcome(e.EventType); !ok || !outcomeName.MatchString(name) {
			errs = append(errs, fmt.Sprintf("event_type %q is not one of message.user, message.agent, action.llm_call, action.tool_call, action.cache_hit, outcome.<lowercase_name>, feedback.explicit, feedback.implicit, session.end", e.EventType))
		}
	}

	switch ts, ok := m["timestamp"].(string); {
	case !ok:
		errs = append(errs, "timestamp is required as an RFC3339 string with offset")
	default:
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			errs = append(errs, fmt.Sprintf("timestamp %q is not RFC3339 with offset", ts))
			break
		}
		e.Timestamp = t.UTC().Truncate(time.Millisecond)
		if e.Timestamp.Before(minTime) || !e.Timestamp.Before(maxTime) {
			errs = append(errs, fmt.Sprintf("timestamp %s is outside the years 1900 to 2299", ts))
		} else if e.Timestamp.After(now.Add(l.maxFutureSkew)) {
			errs = append(errs, fmt.Sprintf("timestamp %s is more than %s ahead of the server clock", ts, l.maxFutureSkew))
		}
	}

	if v, ok := m["metadata"]; ok && v != nil {
		md, isMap := v.(map[string]any)
		if !isMap {
			errs = append(errs, "metadata must be an object")
		} else {
			e.Metadata = make(map[string]any, len(md))
			for k, mv := range md {
				switch x := mv.(type) {
				case string:
					e.Metadata[k] = truncate(x, l.maxStringBytes, &e.Truncated)
				case bool:
					e.Metadata[k] = x
				case json.Number:
					n, err := number(x)
					if err != nil {
						errs = append(errs, fmt.Sprintf("metadata.%s: %v", k, err))
					}
					e.Metadata[k] = n
				default:
					errs = append(errs, fmt.Sprintf("metadata.%s must be a string, number or bool", k))
				}
			}
		}
	}

	if v, ok := m["properties"]; ok && v != nil {
		props, isMap := v.(map[string]any)
		if !isMap {
			errs = append(errs, "properties must be an object")
		} else {
			e.Properties = props
			errs = append(errs, checkProperties(&e, l.maxStringBytes)...)
		}
	}
	if e.EventType == event.TypeOutcomePayment {
		if _, ok := e.Properties["amount"]; !ok {
			errs = append(errs, "outcome.payment needs properties.amount")
		}
	}

	if len(errs) > 0 {
		return e, errors.New(strings.Join(errs, "; "))
	}
	return e, nil
}

// checkProperties converts JSON numbers, checks the typed fields of the
// contract and truncates long strings.
func checkProperties(e *event.Event, maxString int) []string {
	var errs []string
	p := e.Properties
	for _, k := range tokenKeys {
		v, ok := p[k]
		if !ok || v == nil {
			delete(p, k)
			continue
		}
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = strings.TrimSpace(x)
		default:
			errs = append(errs, k+" must be a non-negative integer")
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxTokens {
			errs = append(errs, fmt.Sprintf("%s must be a non-negative integer up to %d, got %s", k, int64(maxTokens), short(s)))
			continue
		}
		p[k] = n
	}
	in, hasIn := event.Int(p, "input_tokens")
	cached, _ := event.Int(p, "cached_input_tokens")
	written, _ := event.Int(p, "cache_creation_input_tokens")
	if hasIn && cached+written > in {
		errs = append(errs, "cached_input_tokens + cache_creation_input_tokens must not exceed input_tokens, which counts every input token")
	}
	out, hasOut := event.Int(p, "output_tokens")
	if reasoning, ok := event.Int(p, "reasoning_tokens"); ok && hasOut && reasoning > out {
		errs = append(errs, "reasoning_tokens must not exceed output_tokens, which counts every output token")
	}
	for k, v := range p {
		if n, ok := v.(json.Number); ok {
			x, err := number(n)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", k, err))
			}
			p[k] = x
		}
	}
	for _, k := range amountKeys {
		if v, ok := p[k]; ok && v != nil {
			f, isNum := event.Float(p, k)
			if !isNum || f < 0 || f > maxAmount {
				errs = append(errs, fmt.Sprintf("%s must be a number from 0 to %g", k, maxAmount))
			}
		}
	}
	if v, ok := p["amount"]; ok {
		if f, isNum := event.Float(p, "amount"); !isNum || math.Abs(f) > maxAmount {
			errs = append(errs, fmt.Sprintf("amount must be a number from %g to %g, got %s", -maxAmount, maxAmount, describe(v)))
		}
	}
	if v, ok := p["score"]; ok && v != nil {
		if _, isNum := event.Float(p, "score"); !isNum {
			errs = append(errs, "score must be a finite number")
		}
	}
	if e.EventType == event.TypeOutcomePayment {
		cur := "USD"
		if v, ok := p["currency"]; ok && v != nil {
			s, _ := v.(string)
			cur = strings.ToUpper(strings.TrimSpace(s))
		}
		if !currencyCode.MatchString(cur) {
			errs = append(errs, fmt.Sprintf("currency must be an ISO 4217 code such as USD, got %s", short(fmt.Sprint(p["currency"]))))
		}
		p["currency"] = cur
	}
	for _, k := range stringProps[e.EventType] {
		v, ok := p[k]
		if _, isString := v.(string); !ok || isString {
			continue
		}
		if v == nil {
			// null stands for absent, and is stored as absent.
			delete(p, k)
			continue
		}
		errs = append(errs, fmt.Sprintf("%s must be a string, got %s", k, jsonKind(v)))
	}
	if v, ok := p["status"]; ok && v != nil && v != "ok" && v != "error" {
		errs = append(errs, fmt.Sprintf("status must be ok or error, got %s", short(fmt.Sprint(v))))
	}
	if content, ok := p["content"].(string); ok {
		if _, has := p["content_length"]; !has {
			// Counted before truncation: counts are never affected by it.
			p["content_length"] = int64(utf8.RuneCountInString(content))
		}
	}
	for k, v := range p {
		if keepWhole[k] {
			continue
		}
		if depth(v, 1) > maxDepth {
			errs = append(errs, fmt.Sprintf("properties.%s nests deeper than %d levels", k, maxDepth))
			continue
		}
		p[k] = normalize(v, maxString, &e.Truncated)
	}
	return errs
}

// depth is how deeply v nests objects and arrays.
func depth(v any, d int) int {
	deepest := d
	switch x := v.(type) {
	case map[string]any:
		for _, mv := range x {
			deepest = max(deepest, depth(mv, d+1))
		}
	case []any:
		for _, sv := range x {
			deepest = max(deepest, depth(sv, d+1))
		}
	}
	return deepest
}

// jsonKind names the JSON type of a decoded value, with the value when it is
// short.
func jsonKind(v any) string {
	switch x := v.(type) {
	case json.Number:
		return "the number " + short(x.String())
	case int64, float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return describe(v)
}

// describe shows a JSON value in an error message.
func describe(v any) string {
	if v == nil {
		return "null"
	}
	return short(fmt.Sprint(v))
}

// number converts a JSON number to int64 when integral, else float64.
func number(n json.Number) (any, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0.0, fmt.Errorf("%s is not a finite number", short(n.String()))
	}
	return f, nil
}

// normalize converts nested JSON numbers and truncates long strings.
func normalize(v any, maxString int, truncated *bool) any {
	switch x := v.(type) {
	case string:
		return truncate(x, maxString, truncated)
	case json.Number:
		n, err := number(x)
		if err != nil {
			return x.String()
		}
		return n
	case map[string]any:
		for k, mv := range x {
			x[k] = normalize(mv, maxString, truncated)
		}
	case []any:
		for i, sv := range x {
			x[i] = normalize(sv, maxString, truncated)
		}
	}
	return v
}

// truncate cuts s to at most max bytes on a character boundary.
func truncate(s string, max int, truncated *bool) string {
	if len(s) <= max {
		return s
	}
	*truncated = true
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func short(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "..."
	}
	return strconv.Quote(s)
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("found a JSON %s, not an object", te.Value)
		}
		return fmt.Sprintf("%s must not be a JSON %s", te.Field, te.Value)
	}
	return err.Error()
}
