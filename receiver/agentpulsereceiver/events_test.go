package agentpulsereceiver

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/event"
)

var (
	testNow    = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	testLimits = limits{maxEvents: 1000, maxFutureSkew: 24 * time.Hour, maxStringBytes: 32 << 10}
)

func decodeOne(t *testing.T, ev string) (event.Event, error) {
	t.Helper()
	events, rejected, err := decodeBatch([]byte(`{"events":[`+ev+`]}`), "my-bot", testNow, testLimits)
	require.NoError(t, err)
	if len(rejected) == 1 {
		return event.Event{}, errors.New(rejected[0].Error)
	}
	require.Len(t, events, 1)
	return events[0], nil
}

const validLLM = `{"event_id":"e1","session_id":"s1","event_type":"action.llm_call","timestamp":"2026-03-06T09:00:00.1234+09:00",
 "user_id":"u1","product_id":"my-bot","metadata":{"channel":"web","vip":true,"tier":2},
 "properties":{"model":"gpt-4o","input_tokens":"1200","output_tokens":300,"cached_input_tokens":200,"duration_ms":812.5,"status":"ok"}}`

func TestDecodeValidEvent(t *testing.T) {
	e, err := decodeOne(t, validLLM)
	require.NoError(t, err)
	assert.Equal(t, "e1", e.EventID)
	assert.Equal(t, "s1", e.SessionID)
	assert.Equal(t, "my-bot", e.ProductID)
	// 09:00:00.1234+09:00 is 00:00:00.123 UTC at millisecond precision.
	assert.Equal(t, time.Date(2026, 3, 6, 0, 0, 0, 123e6, time.UTC), e.Timestamp)
	assert.Equal(t, map[string]any{"channel": "web", "vip": true, "tier": int64(2)}, e.Metadata)
	assert.Equal(t, int64(1200), e.Properties["input_tokens"], "a numeric string is accepted")
	assert.Equal(t, int64(300), e.Properties["output_tokens"])
	assert.Equal(t, 812.5, e.Properties["duration_ms"])
	assert.False(t, e.Truncated)
}

func TestDecodeRejections(t *testing.T) {
	base := func(mut string) string {
		return `{"event_id":"e1","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u1"` + mut + `}`
	}
	tests := []struct {
		name, event, reason string
	}{
		{"not an object", `[1,2]`, "event must be a JSON object"},
		{"missing id", `{"event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u1"}`, "event_id is required"},
		{"empty user", `{"event_id":"e","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":""}`, "user_id must not be empty"},
		{"id not string", `{"event_id":5,"event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u"}`, "event_id must be a string"},
		{"unknown type", `{"event_id":"e","event_type":"click","timestamp":"2026-03-06T10:00:00Z","user_id":"u"}`, `event_type "click" is not one of`},
		{"outcome uppercase", `{"event_id":"e","event_type":"outcome.Booked","timestamp":"2026-03-06T10:00:00Z","user_id":"u"}`, `event_type "outcome.Booked"`},
		{"no offset", `{"event_id":"e","event_type":"message.user","timestamp":"2026-03-06T10:00:00","user_id":"u"}`, "is not RFC3339 with offset"},
		{"future", `{"event_id":"e","event_type":"message.user","timestamp":"2026-03-07T12:00:01Z","user_id":"u"}`, "more than 24h0m0s ahead"},
		{"negative tokens", base(`,"properties":{"input_tokens":-1}`), "input_tokens must be a non-negative integer"},
		{"fractional tokens", base(`,"properties":{"output_tokens":1.5}`), "output_tokens must be a non-negative integer"},
		{"text tokens", base(`,"properties":{"output_tokens":"many"}`), "output_tokens must be a non-negative integer"},
		{"huge amount", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":1e999}}`, "is not a finite number"},
		{"amount string", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":"NaN"}}`, "amount must be a number from -1e+12 to 1e+12, got \"NaN\""},
		{"payment without amount", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u"}`, "outcome.payment needs properties.amount"},
		{"bad currency", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":1,"currency":"reais"}}`, "currency must be an ISO 4217 code"},
		{"negative cost", base(`,"properties":{"cost_usd":-0.5}`), "cost_usd must be a number from 0 to 1e+12"},
		{"bad status", base(`,"properties":{"status":"fine"}`), "status must be ok or error"},
		{"metadata nested", base(`,"metadata":{"a":{"b":1}}`), "metadata.a must be a string, number or bool"},
		{"metadata array", base(`,"metadata":[1]`), "metadata must be an object"},
		{"properties string", base(`,"properties":"x"`), "properties must be an object"},
		{"null amount", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":null}}`, "got null"},
		{"huge cost", base(`,"properties":{"cost_usd":1e308}`), "cost_usd must be a number from 0 to 1e+12"},
		{"huge payment", `{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":-2e12}}`, "amount must be a number from"},
		{"huge tokens", base(`,"properties":{"input_tokens":9223372036854775807}`), "input_tokens must be a non-negative integer up to 1099511627776"},
		{"cached over input", base(`,"properties":{"input_tokens":100,"cached_input_tokens":80,"cache_creation_input_tokens":30}`), "must not exceed input_tokens"},
		{"reasoning over output", base(`,"properties":{"output_tokens":10,"reasoning_tokens":11}`), "reasoning_tokens must not exceed output_tokens"},
		{"year 1400", `{"event_id":"e","event_type":"message.user","timestamp":"1400-01-01T00:00:00Z","user_id":"u"}`, "outside the years 1900 to 2299"},
		{"year 0001", `{"event_id":"e","event_type":"message.user","timestamp":"0001-01-01T00:00:00Z","user_id":"u"}`, "outside the years 1900 to 2299"},
		{"deep nesting", base(`,"properties":{"x":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}`), "properties.x nests deeper than 16 levels"},
		{"model a number", `{"event_id":"e","event_type":"action.llm_call","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"model":42}}`, "model must be a string, got the number 42"},
		{"provider an object", `{"event_id":"e","event_type":"action.llm_call","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"model":"gpt-4o","provider":{"name":"openai"}}}`, "provider must be a string, got an object"},
		{"content a number", `{"event_id":"e","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"content":123}}`, "content must be a string, got the number 123"},
		{"tool name an array", `{"event_id":"e","event_type":"action.tool_call","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"tool_name":["search"]}}`, "tool_name must be a string, got an array"},
		{"cache name a boolean", `{"event_id":"e","event_type":"action.cache_hit","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"cache_name":true}}`, "cache_name must be a string, got the boolean true"},
		{"feedback value an object", `{"event_id":"e","event_type":"feedback.explicit","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"value":{"x":1}}}`, "value must be a string, got an object"},
		{"end reason a number", `{"event_id":"e","event_type":"session.end","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"reason":5}}`, "reason must be a string, got the number 5"},
		{"long id", `{"event_id":"` + strings.Repeat("x", maxIDBytes+1) + `","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u"}`, "event_id is longer than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeOne(t, tt.event)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

func TestDecodeStringPropertiesOfOtherTypes(t *testing.T) {
	// The contract's strings are strings only for their own event type: an
	// outcome's properties are free, and null stands for absent.
	for _, ev := range []string{
		`{"event_id":"e","event_type":"outcome.booked","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"value":{"x":1},"reason":5,"model":42}}`,
		`{"event_id":"e","event_type":"action.llm_call","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"model":null,"content":7}}`,
		`{"event_id":"e","event_type":"session.end","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"reason":"converted"}}`,
	} {
		_, err := decodeOne(t, ev)
		assert.NoError(t, err, ev)
	}
	e, err := decodeOne(t, `{"event_id":"e","event_type":"action.llm_call","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"model":null,"provider":null,"input_tokens":3}}`)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"input_tokens": int64(3)}, e.Properties, "a null string property is left out")
}

func TestDecodeKeepsValidNeighbours(t *testing.T) {
	body := `{"events":[` + validLLM + `,{"event_id":"bad"},{"event_id":"e3","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":49,"currency":"brl"}}]}`
	events, rejected, err := decodeBatch([]byte(body), "my-bot", testNow, testLimits)
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, "e1", events[0].EventID)
	assert.Equal(t, "BRL", events[1].Properties["currency"], "currency codes are uppercased")
	require.Len(t, rejected, 1)
	assert.Equal(t, 1, rejected[0].Index)
	assert.Equal(t, "bad", rejected[0].EventID)
	assert.Contains(t, rejected[0].Error, "event_type is required")
	assert.Contains(t, rejected[0].Error, "timestamp is required")
}

func TestContentLengthCountsTheWholeText(t *testing.T) {
	lim := testLimits
	lim.maxStringBytes = 64
	content := strings.Repeat("é", 100) // 100 characters, 200 bytes
	events, rejected, err := decodeBatch([]byte(`{"events":[{"event_id":"m","event_type":"message.user","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"content":"`+content+`"}}]}`), "p", testNow, lim)
	require.NoError(t, err)
	require.Empty(t, rejected)
	assert.Equal(t, int64(100), events[0].Properties["content_length"])
	assert.Equal(t, strings.Repeat("é", 32), events[0].Properties["content"])
	assert.True(t, events[0].Truncated)

	// Sixteen levels are kept.
	deep := strings.Repeat(`{"a":`, 15) + `1` + strings.Repeat(`}`, 15)
	events, rejected, err = decodeBatch([]byte(`{"events":[{"event_id":"d","event_type":"outcome.custom","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"x":`+deep+`}}]}`), "p", testNow, lim)
	require.NoError(t, err)
	require.Empty(t, rejected)
	assert.Len(t, events, 1)
}

func TestDecodeRequestErrors(t *testing.T) {
	var reqErr *requestError
	_, _, err := decodeBatch([]byte(`{"events":`), "p", testNow, testLimits)
	require.ErrorAs(t, err, &reqErr)
	assert.Equal(t, 400, reqErr.status)

	_, _, err = decodeBatch([]byte(`{"events":{"a":1}}`), "p", testNow, testLimits)
	require.ErrorAs(t, err, &reqErr)
	assert.Equal(t, "body is not valid JSON of the form {\"events\": [...]}: events must not be a JSON object", reqErr.msg)

	_, _, err = decodeBatch([]byte(`{"evts":[]}`), "p", testNow, testLimits)
	require.ErrorAs(t, err, &reqErr)
	assert.Equal(t, 400, reqErr.status)

	small := testLimits
	small.maxEvents = 2
	_, _, err = decodeBatch([]byte(`{"events":[{},{},{}]}`), "p", testNow, small)
	require.ErrorAs(t, err, &reqErr)
	assert.Equal(t, 413, reqErr.status)

	_, _, err = decodeBatch([]byte(`{"events":[{"event_id":"a","product_id":"other"}]}`), "p", testNow, testLimits)
	require.ErrorAs(t, err, &reqErr)
	assert.Equal(t, 403, reqErr.status)

	events, rejected, err := decodeBatch([]byte(`{"events":[]}`), "p", testNow, testLimits)
	require.NoError(t, err)
	assert.Empty(t, events)
	assert.Empty(t, rejected)
}

func TestDecodeUTF8AndTruncation(t *testing.T) {
	lim := testLimits
	lim.maxStringBytes = 64
	long := strings.Repeat("é", 40) // 80 bytes
	body := `{"events":[{"event_id":"e\ud800x","event_type":"outcome.artifact","timestamp":"2026-03-06T10:00:00Z","user_id":"u` + "\xff" + `",
	  "metadata":{"note":"` + long + `"},"properties":{"model":"` + long + `","nested":{"list":["` + long + `", 2.5]}}}]}`
	events, rejected, err := decodeBatch([]byte(body), "p", testNow, lim)
	require.NoError(t, err)
	require.Empty(t, rejected)
	e := events[0]
	assert.Equal(t, "e\uFFFDx", e.EventID, "a lone surrogate becomes U+FFFD")
	assert.Equal(t, "u\uFFFD", e.UserID, "invalid UTF-8 becomes U+FFFD")
	assert.True(t, e.Truncated)
	// 64 bytes hold 32 two-byte characters.
	assert.Equal(t, strings.Repeat("é", 32), e.Metadata["note"])
	assert.Equal(t, long, e.Properties["model"], "the model is never truncated")
	nested := e.Properties["nested"].(map[string]any)["list"].([]any)
	assert.Equal(t, strings.Repeat("é", 32), nested[0])
	assert.Equal(t, 2.5, nested[1])
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"events":[` + validLLM + `]}`))
	f.Add([]byte(`{"events":[{"event_id":"e","event_type":"outcome.payment","timestamp":"2026-03-06T10:00:00Z","user_id":"u","properties":{"amount":1e308,"currency":"eur"}}]}`))
	f.Add([]byte(`{"events":[{"properties":{"input_tokens":"12","x":[{"y":[1,"\ud800"]}]},"metadata":{"a":1.5}}]}`))
	f.Add([]byte(`{"events":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := testLimits
		lim.maxStringBytes = 64
		events, rejected, err := decodeBatch(body, "p", testNow, lim)
		if err != nil {
			return
		}
		for _, e := range events {
			if e.EventID == "" || e.UserID == "" || e.ProductID != "p" || e.Timestamp.IsZero() {
				t.Fatalf("accepted an event without its required fields: %+v", e)
			}
			for _, k := range tokenKeys {
				if v, ok := e.Properties[k]; ok {
					if n, isInt := v.(int64); !isInt || n < 0 {
						t.Fatalf("accepted token count %s=%v", k, v)
					}
				}
			}
			if e.Timestamp.Before(minTime) || !e.Timestamp.Before(maxTime) {
				t.Fatalf("accepted timestamp %s outside the store's years", e.Timestamp)
			}
			for k, v := range e.Properties {
				if depth(v, 1) > maxDepth {
					t.Fatalf("accepted properties.%s nested deeper than %d", k, maxDepth)
				}
			}
			if _, err := json.Marshal(e.Properties); err != nil {
				t.Fatalf("accepted properties that cannot be encoded: %v", err)
			}
			if !utf8.ValidString(e.EventID) || !utf8.ValidString(e.UserID) {
				t.Fatalf("accepted invalid UTF-8")
			}
		}
		for _, r := range rejected {
			if r.Error == "" {
				t.Fatal("rejection without a reason")
			}
		}
	})
}
