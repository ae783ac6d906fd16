package genai

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span attributes that hold what people wrote or read: prompts, completions,
// whole conversations, tool arguments and results. Keys listed here are
// removed whole; prefixes also remove their flattened children
// (gen_ai.prompt.0.content, llm.input_messages.3.message.role...).
var (
	contentKeys = map[string]bool{
		// OTel GenAI 1.37+ and the JSON strings most emitters send.
		"gen_ai.input.messages": true, "gen_ai.output.messages": true, "gen_ai.system_instructions": true,
		"gen_ai.tool.call.arguments": true, "gen_ai.tool.call.result": true,
		// OTel GenAI 1.27 and older, OpenLLMetry: also flattened (gen_ai.prompt.0.content).
		"gen_ai.prompt": true, "gen_ai.completion": true,
		// OpenInference.
		"input.value": true, "output.value": true, "llm.prompts": true, "llm.prompt_template.variables": true,
		// OpenLLMetry / Traceloop.
		"traceloop.entity.input": true, "traceloop.entity.output": true,
		// Vercel AI SDK (legacy ai.* spans).
		"ai.prompt": true, "ai.prompt.messages": true, "ai.response.text": true, "ai.response.object": true,
		"ai.response.toolCalls": true, "ai.response.reasoning": true, "ai.toolCall.args": true, "ai.toolCall.result": true,
		// Langfuse SDK.
		"langfuse.observation.input": true, "langfuse.observation.output": true,
		"langfuse.trace.input": true, "langfuse.trace.output": true,
		// Logfire / OpenAI Agents, Pydantic AI.
		"events": true, "raw_input": true, "pydantic_ai.all_messages": true, "final_result": true,
		"tool_arguments": true, "tool_response": true,
		// LiteLLM v1.
		"request_data": true, "response_data": true,
	}
	contentPrefixes = []string{
		"gen_ai.prompt.", "gen_ai.completion.",
		"llm.input_messages.", "llm.output_messages.", "llm.prompts.",
	}
	// Logfire names its function spans' arguments and result plainly; they
	// are only read as content on Logfire spans.
	logfireContentKeys = []string{"input", "output"}

	// Span events that carry content: OTel GenAI 1.27 (gen_ai.content.*),
	// 1.28-1.36 (per-message events) and the 1.37 details event.
	contentEvents = map[string]bool{
		"gen_ai.content.prompt": true, "gen_ai.content.completion": true,
		"gen_ai.system.message": true, "gen_ai.user.message": true, "gen_ai.assistant.message": true,
		"gen_ai.tool.message": true, "gen_ai.choice": true,
		logInferenceDetails: true,
	}
)

// IsContentAttribute reports whether a span attribute holds message content
// (prompts, completions, conversations, tool arguments or results) in one of
// the supported conventions.
func IsContentAttribute(key string) bool {
	if contentKeys[key] {
		return true
	}
	for _, p := range contentPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// IsContentEvent reports whether a span event of this name carries message
// content.
func IsContentEvent(name string) bool {
	return contentEvents[name]
}

// StripContent removes message content from a span: the attributes of
// IsContentAttribute and the span events of IsContentEvent. Everything
// else (ids, models, token counts, timings, status, agentpulse.* events and
// annotations) stays. It returns how many attributes and events it removed.
//
// Call it after Annotate: the message events Annotate records on the span
// keep the messages' ids, lengths and topics, so MapTraces of the stripped
// span still yields them (without content).
func StripContent(sp ptrace.Span) int {
	removed := 0
	attrs := sp.Attributes()
	logfire := getStr(attrs, "logfire.msg_template") != ""
	attrs.RemoveIf(func(k string, _ pcommon.Value) bool {
		if IsContentAttribute(k) || (logfire && slices.Contains(logfireContentKeys, k)) {
			removed++
			return true
		}
		return false
	})
	sp.Events().RemoveIf(func(ev ptrace.SpanEvent) bool {
		if IsContentEvent(ev.Name()) {
			removed++
			return true
		}
		return false
	})
	return removed
}
