package agentpulsereceiver

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBody is a request of n events shaped like an agent's: messages,
// LLM calls with token counts, tool calls and an outcome.
func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		head := fmt.Sprintf(`{"event_id":"0190f3a1-7c2e-7a11-8b3c-%012d","session_id":"sess_4f1c9a","timestamp":%q,"user_id":"user_0001234","product_id":"bench",`, i, ts)
		switch i % 4 {
		case 0:
			b.WriteString(head + `"event_type":"message.user","metadata":{"channel":"web","plan":"free"},"properties":{"content":"please help me export the invoice report for my team","content_length":52}}`)
		case 1:
			b.WriteString(head + `"event_type":"action.llm_call","properties":{"model":"gpt-4o-mini","provider":"openai","input_tokens":1834,"output_tokens":412,"cached_input_tokens":600,"duration_ms":1532,"status":"ok"}}`)
		case 2:
			b.WriteString(head + `"event_type":"action.tool_call","properties":{"tool_name":"retrieve_docs","duration_ms":220,"status":"ok","cost_usd":0.0012}}`)
		default:
			b.WriteString(head + `"event_type":"message.agent","properties":{"content":"here is the report you asked for, exported as a PDF","content_length":50}}`)
		}
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody(100)
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	l := limits{maxEvents: 1000, maxFutureSkew: 24 * time.Hour, maxStringBytes: 32 << 10}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		events, rejected, err := decodeBatch(body, "bench", now, l)
		if err != nil || len(rejected) > 0 || len(events) != 100 {
			b.Fatal(err, rejected)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "events/s")
}
