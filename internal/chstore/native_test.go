package chstore

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentpulse/agentpulse/internal/event"
)

// hostileEvents exercise every column type with awkward values.
func hostileEvents() []event.Event {
	long := strings.Repeat("é", 20000)
	return []event.Event{
		{EventID: "a", SessionID: "s\x00\n'\\\"", EventType: event.TypeLLMCall, Timestamp: day0.Add(123456789 * time.Microsecond),
			UserID: "u\xff\xfe", ProductID: "p",
			Metadata: map[string]any{"topic": "t\u2028x", "n": int64(-3), "f": 1e-7, "big": 1e21, "ok": true, "nan": math.NaN()},
			Properties: map[string]any{"model": "gpt-4o", "provider": "openai", "input_tokens": int64(1 << 40), "output_tokens": 3.0,
				"cached_input_tokens": "12", "duration_ms": 0.5, "nested": map[string]any{"k": []any{int64(1), "x", nil, 2.5}},
				"content": "tab\tcr\rnl\nbell\x07<>&"},
			CostUSD: ptr(0.25), CostStatus: event.CostComputed, Topic: "billing", Truncated: true},
		{EventID: "b", SessionID: "s", EventType: event.TypeToolCall, Timestamp: minTime, UserID: "", ProductID: "p",
			Properties: map[string]any{"tool_name": long, "cost_usd": math.Inf(1)}},
		{EventID: "c", SessionID: "s", EventType: event.TypeOutcomePayment, Timestamp: maxTime, UserID: "u", ProductID: "p",
			Properties: map[string]any{"amount": -12.5, "currency": " brl "}, AmountUSD: ptr(-2.25)},
		{EventID: "d", SessionID: "s", EventType: event.TypeOutcomePayment, Timestamp: day0, UserID: "u", ProductID: "p",
			Properties: map[string]any{"amount": 7.0}},
		{EventID: "e", SessionID: "s", EventType: event.TypeSessionEnd, Timestamp: day0, UserID: "u", ProductID: "p",
			Properties: map[string]any{"reason": "converted"}, Metadata: map[string]any{}},
		{EventID: "f", SessionID: "s", EventType: "outcome.custom_thing", Timestamp: day0, UserID: "u", ProductID: "p"},
		{EventID: "g", SessionID: "s", EventType: event.TypeCacheHit, Timestamp: day0, UserID: "u", ProductID: "p",
			Properties: map[string]any{"saved_cost_usd": "0.5"}},
	}
}

func dumpEvents(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	sql := "SELECT * EXCEPT ingested_at FROM " + s.db + ".events ORDER BY event_id FORMAT JSONEachRow"
	res, err := s.shared.eng.(*embeddedEngine).session.Query(string(sql), "JSONEachRow")
	require.NoError(t, err)
	defer res.Free()
	for line := range strings.SplitSeq(strings.TrimSpace(string(res.Buf())), "\n") {
		out = append(out, line)
	}
	return out
}

// TestNativeInsertMatchesJSON writes the same events through the Native
// block (the embedded path) and through JSONEachRow (the server path) and
// expects identical stored rows.
func TestNativeInsertMatchesJSON(t *testing.T) {
	native := newTestStore(t)
	text := newTestStore(t)
	events := hostileEvents()

	p, invalid := native.PrepareInsert(events, "")
	require.NoError(t, invalid)
	require.NotEmpty(t, p.File, "the embedded engine gets a Native block")
	assert.Contains(t, p.Statement, "FORMAT Native")
	require.NoError(t, os.Remove(p.File))
	require.NoError(t, native.Insert(t.Context(), events))

	stmt := newJSONInsert("INSERT INTO "+string(text.db)+".events ("+insertColumns+")", len(events))
	for i := range events {
		var r row
		require.NoError(t, toRow(&events[i], &r))
		stmt.add(&r)
	}
	require.NoError(t, text.exec(t.Context(), sqlText(stmt.String())))

	got, want := dumpEvents(t, native), dumpEvents(t, text)
	require.Len(t, got, len(events))
	require.Len(t, want, len(events))
	for i := range got {
		var g, w map[string]any
		require.NoError(t, json.Unmarshal([]byte(got[i]), &g))
		require.NoError(t, json.Unmarshal([]byte(want[i]), &w))
		for k := range w {
			assert.Equal(t, w[k], g[k], "row %d column %s", i, k)
		}
		assert.Len(t, g, len(w))
	}

	// And the values are the ones of the events, not merely the same twice.
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[0]), &first))
	assert.Equal(t, "s\x00\n'\\\"", first["session_id"])
	assert.Equal(t, "u\uFFFD\uFFFD", first["user_id"])
	assert.Equal(t, "2026-03-06 00:02:03.456", first["timestamp"])
	assert.Equal(t, true, first["truncated"])
	assert.Equal(t, float64(1<<40), first["input_tokens"])
	assert.Equal(t, 0.25, first["cost_usd"])
	props, err := decodeObject(first["properties"].(string))
	require.NoError(t, err)
	assert.Equal(t, events[0].Properties["content"], props["content"])
	assert.Equal(t, map[string]any{"k": []any{int64(1), "x", nil, 2.5}}, props["nested"])
	meta, err := decodeObject(first["metadata"].(string))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"topic": "t\u2028x", "n": int64(-3), "f": 1e-7, "big": 1e21, "ok": true, "nan": nil}, meta)

	var second map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[1]), &second))
	assert.Equal(t, strings.Repeat("é", 20000), second["tool_name"])
	assert.Nil(t, second["cost_usd"], "a cost that is not finite is stored as NULL")
	assert.Equal(t, "unpriced", second["cost_status"])

	var third map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[2]), &third))
	assert.Equal(t, "BRL", third["currency"])
	assert.Equal(t, -2.25, third["amount_usd"])
	assert.Equal(t, "2299-12-31 23:59:59.000", third["timestamp"])
}

// TestInsertReusesBlockFiles checks that inserts one after the other
// rewrite the same block file rather than creating one each.
func TestInsertReusesBlockFiles(t *testing.T) {
	s := newTestStore(t)
	require.NoError(t, s.Insert(t.Context(), hostileEvents()))
	dir := filepath.Join(s.shared.path, insertDirName)
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, before)
	for i := range 5 {
		events := hostileEvents()
		for j := range events {
			events[j].EventID += strconv.Itoa(i)
		}
		require.NoError(t, s.Insert(t.Context(), events))
	}
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, after, len(before))

	p, invalid := s.PrepareInsert(hostileEvents(), t.TempDir())
	require.NoError(t, invalid)
	assert.FileExists(t, p.File, "PrepareInsert with a directory leaves the block to its caller")
	assert.NotEqual(t, dir, filepath.Dir(p.File))

	var n int64
	require.NoError(t, s.query(t.Context(), "SELECT toInt64(count()) FROM "+s.db+".events", func(r resultRows) error {
		return r.Scan(&n)
	}))
	assert.Equal(t, int64(6*len(hostileEvents())), n)
}

// TestAppendJSONMatchesEncodingJSON compares the hand-written encoder with
// encoding/json (without its HTML escaping) on awkward values.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	values := []any{
		"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\x7f", "nl\n cr\r tab\t", "line\u2028para\u2029",
		"bad\xff\xfeutf8", "é 日本 🙂", "<tag>&amp;",
		int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), 7,
		0.0, math.Copysign(0, -1), 1.0, 3.0, -2.5, 0.1, 1e-6, 1e-7, 123456789.125, 1e20, 1e21, 1.5e300, 5e-324, float32(0.1),
		true, false, nil,
		map[string]any{"b": int64(1), "a": []any{"x", 2.0, map[string]any{"z": nil}}},
		[]any{},
	}
	for _, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(v))
		got := appendJSONValue(nil, v)
		assert.Equal(t, strings.TrimSuffix(want.String(), "\n"), string(got), "%#v", v)
	}
	assert.Equal(t, "null", string(appendJSONValue(nil, math.NaN())))
	assert.Equal(t, "null", string(appendJSONValue(nil, math.Inf(-1))))
	assert.Equal(t, `{"a":null}`, string(appendJSONObject(nil, map[string]any{"a": math.Inf(1)})))
	assert.Equal(t, `{}`, string(appendJSONObject(nil, nil)))
}
