package genai

import (
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchTraces is 10 agent turns of 10 model calls and 10 tool calls each,
// every model call repeating a 20-message history as a JSON string.
func benchTraces() ptrace.Traces {
	history := `[{"role":"system","content":"You are a travel agent."}`
	for i := range 10 {
		history += `,{"role":"user","content":"question ` + strconv.Itoa(i) + ` about flights and hotels"}` +
			`,{"role":"assistant","content":"answer ` + strconv.Itoa(i) + ` with some detail about the options"}`
	}
	history += `]`
	td := ptrace.NewTraces()
	for turn := range 10 {
		tr := byte(turn + 1)
		newSpan(td, tr, 1, 0, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv", "user.id": "u"})
		for i := range 10 {
			newSpan(td, tr, byte(2+2*i), 1, map[string]any{
				"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4",
				"gen_ai.usage.input_tokens": 5000, "gen_ai.usage.output_tokens": 300,
				"gen_ai.usage.cache_read.input_tokens": 4000, "gen_ai.input.messages": history,
				"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"step ` + strconv.Itoa(i) + `"}]}]`,
			})
			newSpan(td, tr, byte(3+2*i), 1, map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
		}
	}
	return td
}

func BenchmarkMapTraces(b *testing.B) {
	td := benchTraces()
	spans := td.SpanCount()
	b.ReportAllocs()
	for b.Loop() {
		MapTraces(td, Options{ProductID: "p"})
	}
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
}
