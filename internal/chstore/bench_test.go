package chstore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	db := fmt.Sprintf("bench%d", dbCounter.Add(1))
	s, err := Open(b.Context(), testConfig(db), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(db))
		_ = s.Close()
	})
	return s
}

func benchEvents(n, round int) []event.Event {
	events := make([]event.Event, n)
	for i := range events {
		events[i] = event.Event{
			EventID: fmt.Sprintf("r%d-e%d", round, i), SessionID: fmt.Sprintf("r%d-s%d", round, i/20),
			EventType: event.TypeLLMCall, Timestamp: day0.Add(time.Duration(i) * time.Second), UserID: "u", ProductID: "p",
			Properties: map[string]any{"model": "gpt-4o", "input_tokens": int64(1000), "output_tokens": int64(200)},
			CostUSD:    ptr(0.0045), CostStatus: event.CostComputed, Metadata: map[string]any{"channel": "web"},
		}
	}
	return events
}

// BenchmarkInsert measures one INSERT per batch; events/s is the figure
// that sizes the exporter's batches.
func BenchmarkInsert(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := benchStore(b)
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				events := benchEvents(n, round)
				round++
				b.StartTimer()
				if err := s.Insert(b.Context(), events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkQueries measures the analytics queries on 50,000 events.
func BenchmarkQueries(b *testing.B) {
	s := benchStore(b)
	for round := range 10 {
		if err := s.Insert(b.Context(), benchEvents(5000, round)); err != nil {
			b.Fatal(err)
		}
	}
	f := analytics.Filter{ProductID: "p"}
	b.Run("funnel", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Funnel(b.Context(), f, analytics.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sessions", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Sessions(b.Context(), f, analytics.Options{}, 50, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := s.Session(b.Context(), "p", "r3-s7", analytics.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPrepareInsert measures building an INSERT in Go (row mapping,
// encoding and, on the embedded engine, writing the Native block).
func BenchmarkPrepareInsert(b *testing.B) {
	s := benchStore(b)
	events := benchEvents(5000, 0)
	for i := range events {
		events[i].Properties["duration_ms"] = int64(1200)
		events[i].Properties["provider"] = "openai"
		events[i].Metadata["plan"] = "free"
	}
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.PrepareInsert(events, dir)
		if err != nil {
			b.Fatal(err)
		}
		_ = os.Remove(p.File)
	}
	b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
}
