package workload

import (
	"encoding/json"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var end = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestStreamIsSeededAndTimeOrdered(t *testing.T) {
	cfg := DefaultConfig("bench", 20000, end, 7)
	a := NewStream(cfg).Take(20000)
	b := NewStream(cfg).Take(20000)
	require.Equal(t, a, b, "the same seed gives the same events")

	other := NewStream(DefaultConfig("bench", 20000, end, 8)).Take(100)
	assert.NotEqual(t, a[:100], other)

	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	ids := map[string]bool{}
	for i, e := range a {
		require.Regexp(t, uuid7, e.EventID)
		require.False(t, ids[e.EventID], "event id %s repeated", e.EventID)
		ids[e.EventID] = true
		if i > 0 {
			require.False(t, e.Timestamp.Before(a[i-1].Timestamp), "event %d is earlier than the one before", i)
		}
		require.False(t, e.Timestamp.Before(cfg.From))
		require.Equal(t, "bench", e.ProductID)
		// The id's first 48 bits are the event's Unix milliseconds.
		ms := e.EventID[0:8] + e.EventID[9:13]
		var want [12]byte
		const digits = "0123456789abcdef"
		v := e.Timestamp.UnixMilli()
		for j := 11; j >= 0; j-- {
			want[j] = digits[v&0xf]
			v >>= 4
		}
		require.Equal(t, string(want[:]), ms)
	}
}

func TestSessionsShape(t *testing.T) {
	cfg := DefaultConfig("bench", 100000, end, 3)
	s := NewStream(cfg)
	events := s.Take(100000)

	bySession := map[string][]Event{}
	for _, e := range events {
		bySession[e.SessionID] = append(bySession[e.SessionID], e)
	}
	// Sessions still open at the cut are partial; the others have 5..200
	// events, start with a user message carrying the session metadata and
	// belong to one user.
	sessionsPerUser := map[string]int{}
	complete, messages, long, llm, withTokens := 0, 0, 0, 0, 0
	types := map[string]int{}
	for id, evs := range bySession {
		sessionsPerUser[evs[0].UserID]++
		first := evs[0]
		require.Equal(t, "message.user", first.EventType, id)
		require.Contains(t, first.Metadata, "channel")
		for _, e := range evs {
			require.Equal(t, first.UserID, e.UserID)
			types[e.EventType]++
			switch e.EventType {
			case "message.user", "message.agent":
				messages++
				if len(e.Properties["content"].(string)) >= 4096 {
					long++
				}
			case "action.llm_call":
				llm++
				if e.Properties["input_tokens"].(int64) > 0 && e.Properties["output_tokens"].(int64) > 0 {
					withTokens++
				}
			}
		}
		if len(evs) < 5 {
			continue
		}
		complete++
		require.LessOrEqual(t, len(evs), 200)
	}
	assert.Greater(t, complete, len(bySession)/2)
	assert.Equal(t, llm, withTokens, "every LLM call carries token counts")
	for _, typ := range []string{"message.user", "message.agent", "action.llm_call", "action.tool_call",
		"action.cache_hit", "outcome.artifact", "outcome.payment", "feedback.explicit", "session.end"} {
		assert.Positive(t, types[typ], typ)
	}
	// About 1 % of message bodies are long.
	rate := float64(long) / float64(messages)
	assert.InDelta(t, 0.01, rate, 0.004, "long content rate %.4f", rate)

	// Zipf: the busiest tenth of users own far more than a tenth of sessions.
	counts := make([]int, 0, len(sessionsPerUser))
	total := 0
	for _, n := range sessionsPerUser {
		counts = append(counts, n)
		total += n
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	top := 0
	for _, n := range counts[:max(len(counts)/10, 1)] {
		top += n
	}
	assert.Greater(t, float64(top)/float64(total), 0.3)
}

func TestAppendBatchIsTheAPIBody(t *testing.T) {
	events := NewStream(DefaultConfig("bench", 1000, end, 1)).Take(300)
	events[0].Properties = map[string]any{"content": "quote \" back \\ nl \n tab \t ctl \x01 bad \xff é", "n": int64(3), "f": 1.5, "ok": true}
	body := AppendBatch(nil, events)

	var decoded struct {
		Events []map[string]any `json:"events"`
	}
	require.NoError(t, json.Unmarshal(body, &decoded))
	require.Len(t, decoded.Events, len(events))
	for i, got := range decoded.Events {
		e := events[i]
		assert.Equal(t, e.EventID, got["event_id"])
		assert.Equal(t, e.SessionID, got["session_id"])
		assert.Equal(t, e.EventType, got["event_type"])
		assert.Equal(t, e.UserID, got["user_id"])
		ts, err := time.Parse(time.RFC3339Nano, got["timestamp"].(string))
		require.NoError(t, err)
		assert.True(t, ts.Equal(e.Timestamp))
	}
	props := decoded.Events[0]["properties"].(map[string]any)
	assert.Equal(t, "quote \" back \\ nl \n tab \t ctl \x01 bad \uFFFD é", props["content"])
	assert.Equal(t, 3.0, props["n"])
	assert.Equal(t, 1.5, props["f"])
	assert.Equal(t, true, props["ok"])
}
