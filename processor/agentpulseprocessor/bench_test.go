package agentpulseprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentpulse/agentpulse/internal/event"
)

// benchBatch is 100 events of 10 users: for each user a conversation of
// user and agent messages with LLM and tool calls and a payment.
func benchBatch() plog.Logs {
	var events []*event.Event
	for u := range 10 {
		user := fmt.Sprintf("55119%08d", u)
		at := t0.Add(time.Duration(u) * time.Minute)
		for i := range 10 {
			e := &event.Event{EventID: fmt.Sprintf("e%d-%d", u, i), UserID: user, ProductID: "legal-bot", Timestamp: at.Add(time.Duration(i) * 20 * time.Second)}
			switch i % 5 {
			case 0:
				e.EventType = event.TypeMessageUser
				e.Properties = map[string]any{"content": "Preciso de ajuda com um divórcio e a guarda dos meus filhos"}
				e.Metadata = map[string]any{"channel": "whatsapp"}
			case 1:
				e.EventType = event.TypeLLMCall
				e.Properties = map[string]any{"model": "gpt-4o-mini", "provider": "openai", "input_tokens": int64(2400), "cached_input_tokens": int64(1024), "output_tokens": int64(380), "duration_ms": int64(1800)}
			case 2:
				e.EventType = event.TypeToolCall
				e.Properties = map[string]any{"tool_name": "case_search", "duration_ms": int64(240), "cost_usd": 0.001}
			case 3:
				e.EventType = event.TypeMessageAgent
				e.Properties = map[string]any{"content": "Claro. Vamos começar pelo tipo de divórcio que você procura."}
			case 4:
				e.EventType = event.TypeOutcomePayment
				e.Properties = map[string]any{"amount": 29.9, "currency": "BRL"}
			}
			events = append(events, e)
		}
	}

	return encode(events...)
}

func benchCore(b *testing.B) *core {
	cfg := createDefaultConfig()
	cfg.ExchangeRates = map[string]float64{"BRL": 0.18}
	cfg.Products = map[string]ProductConfig{"legal-bot": {Topics: []TopicRule{
		{Topic: "labor", Keywords: []string{"demissão", "horas extras"}},
		{Topic: "divorce", Keywords: []string{"divórcio", "guarda"}},
	}}}
	c, err := newCore(cfg, componenttest.NewNopTelemetrySettings())
	require.NoError(b, err)

	return c
}

// BenchmarkProcessLogs measures the whole per-event path: decoding the
// record, sessions, cost, currency, topics, privacy and encoding it back.
// Each iteration copies the batch first, since processing changes it.
func BenchmarkProcessLogs(b *testing.B) {
	p := &logsProcessor{core: benchCore(b)}
	src := benchBatch()
	n := src.LogRecordCount()
	b.ReportAllocs()
	for b.Loop() {
		ld := plog.NewLogs()
		src.CopyTo(ld)
		if _, err := p.processLogs(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// BenchmarkCopyBatch is the copy BenchmarkProcessLogs includes, to subtract.
func BenchmarkCopyBatch(b *testing.B) {
	src := benchBatch()
	b.ReportAllocs()
	for b.Loop() {
		ld := plog.NewLogs()
		src.CopyTo(ld)
	}
}

// BenchmarkEnrich measures the per-event steps on decoded events.
func BenchmarkEnrich(b *testing.B) {
	c := benchCore(b)
	var events []event.Event
	forEachRecord(benchBatch(), func(rl plog.ResourceLogs, lr plog.LogRecord) {
		events = append(events, event.FromLogRecord(rl.Resource(), lr))
	})
	work := make([]event.Event, len(events))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for i := range events {
			work[i] = events[i]
			work[i].Properties = clone(events[i].Properties)
			c.enrich(ctx, &work[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}

	return out
}

// BenchmarkSessionize measures session assignment of new users' events.
func BenchmarkSessionize(b *testing.B) {
	s := newSessionStore(timeout, 100_000)
	events := make([]*event.Event, 100)
	for i := range events {
		events[i] = &event.Event{EventType: event.TypeMessageUser, ProductID: "legal-bot"}
	}
	var k int
	b.ReportAllocs()
	for b.Loop() {
		for i, e := range events {
			e.SessionID = ""
			e.UserID = fmt.Sprintf("55119%08d", (k+i/5)%200_000)
			e.Timestamp = t0.Add(time.Duration(k+i) * time.Second)
		}
		k += len(events) / 5
		s.assign(events, wall)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

// heapPerOpenSession fills a store with n users of the fixture's shape
// (product "legal-bot", 13-digit phone numbers as user ids), each with one
// open session, and returns the live heap it added per session.
func heapPerOpenSession(n int) float64 {
	events := make([]*event.Event, 0, 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	s := newSessionStore(timeout, n)
	for i := 0; i < n; i += cap(events) {
		events = events[:0]
		for j := i; j < min(i+cap(events), n); j++ {
			events = append(events, &event.Event{
				EventID: "e", EventType: event.TypeMessageUser, ProductID: "legal-bot",
				UserID: fmt.Sprintf("55%011d", j), Timestamp: t0.Add(time.Duration(j) * time.Millisecond),
			})
		}
		s.assign(events, wall)
	}
	clear(events)

	runtime.GC()
	runtime.ReadMemStats(&after)
	if int(s.open.Load()) != n {
		panic(fmt.Sprintf("expected %d open sessions, got %d", n, s.open.Load()))
	}
	perSession := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	runtime.KeepAlive(s)

	return perSession
}

func BenchmarkMemoryPerOpenSession(b *testing.B) {
	var perSession float64
	for b.Loop() {
		perSession = heapPerOpenSession(100_000)
	}
	b.ReportMetric(perSession, "bytes/session")
}

// The target is under 300 bytes of heap per open session.
func TestMemoryPerOpenSession(t *testing.T) {
	perSession := heapPerOpenSession(50_000)
	t.Logf("%.0f bytes per open session", perSession)
	assert.Less(t, perSession, 300.0)
	assert.Greater(t, perSession, 64.0, "the measure must at least see the per-user struct")
}
