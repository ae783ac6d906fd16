package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope string
		span  string
		attrs map[string]any
		want  spanKind
	}{
		{"otel chat", "", "chat gpt-4", map[string]any{"gen_ai.operation.name": "chat"}, kindLLM},
		{"otel text_completion", "", "", map[string]any{"gen_ai.operation.name": "text_completion"}, kindLLM},
		{"otel generate_content", "", "", map[string]any{"gen_ai.operation.name": "generate_content"}, kindLLM},
		{"otel execute_tool", "", "", map[string]any{"gen_ai.operation.name": "execute_tool"}, kindTool},
		{"otel invoke_agent", "", "", map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "m"}, kindAgent},
		{"otel embeddings are not counted", "", "", map[string]any{"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "m"}, kindOther},
		{"vercel v7 step", "", "step 1", map[string]any{"gen_ai.operation.name": "agent_step"}, kindOther},
		{"openinference LLM", "", "", map[string]any{"openinference.span.kind": "LLM"}, kindLLM},
		{"openinference TOOL", "", "", map[string]any{"openinference.span.kind": "TOOL"}, kindTool},
		{"openinference AGENT", "", "", map[string]any{"openinference.span.kind": "AGENT"}, kindAgent},
		{"openinference CHAIN", "", "", map[string]any{"openinference.span.kind": "CHAIN"}, kindOther},
		{"openinference EMBEDDING", "", "", map[string]any{"openinference.span.kind": "EMBEDDING", "gen_ai.request.model": "m"}, kindOther},
		{"langfuse generation", "", "", map[string]any{"langfuse.observation.type": "generation"}, kindLLM},
		{"langfuse tool", "", "", map[string]any{"langfuse.observation.type": "tool"}, kindTool},
		{"langfuse span", "", "", map[string]any{"langfuse.observation.type": "span"}, kindOther},
		{"traceloop tool", "", "get_weather.tool", map[string]any{"traceloop.span.kind": "tool"}, kindTool},
		{"traceloop workflow", "", "", map[string]any{"traceloop.span.kind": "workflow"}, kindOther},
		{"openllmetry request type", "", "openai.chat", map[string]any{"llm.request.type": "chat"}, kindLLM},
		{"openllmetry completion", "", "", map[string]any{"llm.request.type": "completion"}, kindLLM},
		{"openllmetry embedding", "", "", map[string]any{"llm.request.type": "embedding"}, kindOther},
		{"openllmetry span name", "opentelemetry.instrumentation.langchain", "ChatOpenAI.chat", nil, kindLLM},
		{"span name alone elsewhere", "", "ChatOpenAI.chat", nil, kindOther},
		{"vercel doGenerate", "ai", "", map[string]any{"ai.operationId": "ai.generateText.doGenerate"}, kindLLM},
		{"vercel doStream from operation.name", "ai", "", map[string]any{"operation.name": "ai.streamText.doStream fn"}, kindLLM},
		{"vercel toolCall", "ai", "", map[string]any{"ai.operationId": "ai.toolCall"}, kindTool},
		{"vercel wrapper", "ai", "", map[string]any{"ai.operationId": "ai.generateText"}, kindAgent},
		{"vercel embed", "ai", "", map[string]any{"ai.operationId": "ai.embed.doEmbed"}, kindOther},
		{"logfire function", "", "", map[string]any{"logfire.msg_template": "Function: {name}"}, kindTool},
		{"logfire agent run", "", "", map[string]any{"logfire.msg_template": "Agent run: {name!r}"}, kindAgent},
		{"logfire handoff", "", "", map[string]any{"logfire.msg_template": "Handoff: {from_agent} → {to_agent}"}, kindOther},
		{"pydantic ai run", "", "", map[string]any{"pydantic_ai.all_messages": "[]"}, kindAgent},
		{"pydantic ai tool", "", "running tool", map[string]any{"gen_ai.tool.name": "roulette"}, kindTool},
		{"semantic kernel: a model, no operation", "", "chat_completion", map[string]any{"gen_ai.response.model": "gpt-4"}, kindLLM},
		{"plain span", "", "GET /", map[string]any{"http.method": "GET"}, kindOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			sp := newSpan(td, 1, 1, 0, tc.attrs)
			sp.SetName(tc.span)
			assert.Equal(t, tc.want, classify(sp, tc.scope))
		})
	}
}

func TestCallStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(sp ptrace.Span)
		status string
		err    any
	}{
		{"unset", func(ptrace.Span) {}, "ok", nil},
		{"status ok", func(sp ptrace.Span) { sp.Status().SetCode(ptrace.StatusCodeOk) }, "ok", nil},
		{"status error with message", func(sp ptrace.Span) {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("rate limited")
		}, "error", "rate limited"},
		{"status error, exception event", func(sp ptrace.Span) {
			sp.Status().SetCode(ptrace.StatusCodeError)
			addEvent(sp, "exception", 1, map[string]any{"exception.type": "Timeout", "exception.message": "read timed out"})
		}, "error", "read timed out"},
		{"error.type without status", func(sp ptrace.Span) {
			sp.Attributes().PutStr("error.type", "429")
		}, "error", "429"},
		{"litellm error.message", func(sp ptrace.Span) {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Attributes().PutStr("error.message", "budget exceeded")
		}, "error", "budget exceeded"},
		{"status error, nothing said", func(sp ptrace.Span) { sp.Status().SetCode(ptrace.StatusCodeError) }, "error", nil},
		{"langfuse ERROR level", func(sp ptrace.Span) {
			sp.Attributes().PutStr("langfuse.observation.level", "ERROR")
			sp.Attributes().PutStr("langfuse.observation.status_message", "bad request")
		}, "error", "bad request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			sp := newSpan(td, 1, 1, 0, map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
			tc.setup(sp)
			out, _ := MapTraces(td, Options{ProductID: testProduct})
			props := out[0].Event.Properties
			assert.Equal(t, tc.status, props["status"])
			assert.Equal(t, tc.err, props["error"])
			assert.Equal(t, "search", props["tool_name"])
			assert.Equal(t, 250.0, props["duration_ms"])
		})
	}
}
