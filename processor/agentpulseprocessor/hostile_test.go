package agentpulseprocessor

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentpulse/agentpulse/internal/event"
)

func TestHostileRecords(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	add := func(fill func(attrs plog.LogRecord)) {
		lr := lrs.AppendEmpty()
		lr.Attributes().PutStr(event.AttrEventID, fmt.Sprintf("h%d", lrs.Len()))
		lr.Attributes().PutStr(event.AttrUserID, "u1")
		fill(lr)
	}
	add(func(lr plog.LogRecord) { lr.Attributes().PutInt(event.AttrEventType, 7) })
	add(func(lr plog.LogRecord) {
		lr.Attributes().PutStr(event.AttrEventType, event.TypeLLMCall)
		lr.Attributes().PutStr(event.AttrProperties, "not a map")
		lr.Attributes().PutEmptySlice(event.AttrMetadata).AppendEmpty().SetStr("x")
	})
	add(func(lr plog.LogRecord) {
		lr.Attributes().PutStr(event.AttrEventType, event.TypeLLMCall)
		p := lr.Attributes().PutEmptyMap(event.AttrProperties)
		p.PutStr("model", strings.Repeat("ü", 5000))
		p.PutInt("input_tokens", 1<<62)
		p.PutInt("cached_input_tokens", 1<<62)
		p.PutEmptyMap("output_tokens")
		p.PutStr("cost_usd", "free")
	})
	add(func(lr plog.LogRecord) {
		lr.Attributes().PutStr(event.AttrEventType, event.TypeOutcomePayment)
		p := lr.Attributes().PutEmptyMap(event.AttrProperties)
		p.PutStr("amount", "10")
		p.PutStr("currency", "\xff\xfe")
	})
	add(func(lr plog.LogRecord) {
		lr.Attributes().PutStr(event.AttrEventType, event.TypeMessageUser)
		lr.Attributes().PutStr(event.AttrCostUSD, "NaN")
		p := lr.Attributes().PutEmptyMap(event.AttrProperties)
		p.PutStr("content", "divorce \xff\xfe"+strings.Repeat("a ", 20000))
		p.PutEmptySlice("content_length")
	})
	add(func(lr plog.LogRecord) {
		lr.Attributes().PutStr(event.AttrEventType, event.TypeSessionEnd)
		lr.SetTimestamp(0)
	})
	n := lrs.Len()

	require.NoError(t, h.proc.ConsumeLogs(t.Context(), ld))
	got := h.output()
	assert.Len(t, got, n)
	assert.Equal(t, event.CostUnpriced, got["h3"].CostStatus, "a huge unknown model name is unpriced")
	assert.Nil(t, got["h4"].AmountUSD)
	assert.NotContains(t, got["h5"].Properties, "content")
	for id, e := range got {
		assert.NotEmpty(t, e.SessionID, id)
	}
}

func TestConcurrentBatches(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.ExchangeRates = map[string]float64{"EUR": 1.08}
	h := newHarness(t, cfg)

	// Eight goroutines send interleaved events of the same five users,
	// all within one session per user.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				var batch []*event.Event
				for u := range 5 {
					at := t0.Add(time.Duration(i*8+g) * time.Second)
					batch = append(batch, msg(fmt.Sprintf("g%d-%d-%d", g, i, u), fmt.Sprintf("u%d", u), at))
				}
				assert.NoError(t, h.proc.ConsumeLogs(t.Context(), encode(batch...)))
			}
		})
	}
	wg.Wait()

	sessions := map[string]map[string]bool{}
	for _, e := range h.output() {
		if sessions[e.UserID] == nil {
			sessions[e.UserID] = map[string]bool{}
		}
		sessions[e.UserID][e.SessionID] = true
	}
	require.Len(t, sessions, 5)
	for user, ids := range sessions {
		assert.Len(t, ids, 1, user)
	}
	assert.Equal(t, int64(5), counterValue(t, h.tel, metricOpenSessions))
}
