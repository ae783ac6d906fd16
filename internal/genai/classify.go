package genai

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanKind is what a span stands for.
type spanKind uint8

const (
	kindOther spanKind = iota // nothing AgentPulse counts (workflow, chain, retrieval, embeddings...)
	kindLLM                   // one model call: action.llm_call
	kindTool                  // one tool execution: action.tool_call
	kindAgent                 // an agent run around model and tool calls: messages only
)

// kindRules decide a span's kind from one attribute's value, in order. A
// value listed as kindOther settles the span as not counted; a value not
// listed lets the next rule decide.
var kindRules = []struct {
	key   string
	kinds map[string]spanKind
}{
	{"gen_ai.operation.name", map[string]spanKind{
		"chat": kindLLM, "text_completion": kindLLM, "generate_content": kindLLM,
		"execute_tool": kindTool,
		"invoke_agent": kindAgent, "invoke_workflow": kindAgent,
		"embeddings": kindOther, "retrieval": kindOther, "create_agent": kindOther, "agent_step": kindOther,
		"rerank": kindOther,
	}},
	{"openinference.span.kind", map[string]spanKind{
		"llm": kindLLM, "tool": kindTool, "agent": kindAgent,
		"chain": kindOther, "embedding": kindOther, "retriever": kindOther, "reranker": kindOther,
		"guardrail": kindOther, "evaluator": kindOther, "prompt": kindOther, "unknown": kindOther,
	}},
	{"langfuse.observation.type", map[string]spanKind{
		"generation": kindLLM, "tool": kindTool, "agent": kindAgent,
		"span": kindOther, "event": kindOther, "chain": kindOther, "retriever": kindOther,
		"embedding": kindOther, "evaluator": kindOther, "guardrail": kindOther,
	}},
	{"traceloop.span.kind", map[string]spanKind{
		"tool": kindTool, "agent": kindAgent, "workflow": kindOther, "task": kindOther,
	}},
	{"llm.request.type", map[string]spanKind{
		"chat": kindLLM, "completion": kindLLM, "embedding": kindOther, "rerank": kindOther,
	}},
	{"logfire.msg_template", map[string]spanKind{
		"Function: {name}": kindTool, "Agent run: {name!r}": kindAgent,
	}},
}

// vercelWrappers are the AI SDK's outer spans, which hold the whole call
// (all steps) around the doGenerate/doStream spans.
var vercelWrappers = map[string]bool{
	"ai.generateText": true, "ai.streamText": true, "ai.generateObject": true, "ai.streamObject": true,
}

// classify decides a span's kind; see kindRules for the order.
func classify(sp ptrace.Span, scope string) spanKind {
	attrs := sp.Attributes()
	for _, r := range kindRules {
		v := getStr(attrs, r.key)
		if v == "" {
			continue
		}
		if k, ok := r.kinds[v]; ok {
			return k
		}
		if k, ok := r.kinds[strings.ToLower(v)]; ok {
			return k
		}
	}
	if k, ok := vercelKind(attrs); ok {
		return k
	}
	if _, ok := attrs.Get("pydantic_ai.all_messages"); ok {
		return kindAgent
	}
	if getStr(attrs, "gen_ai.tool.name") != "" {
		return kindTool
	}
	// Semantic Kernel and the semconv example's second span carry a model
	// but no operation name.
	if getStr(attrs, "gen_ai.request.model") != "" || getStr(attrs, "gen_ai.response.model") != "" {
		return kindLLM
	}
	// OpenLLMetry names model spans "<Class>.chat" / ".completion".
	if strings.HasPrefix(scope, "opentelemetry.instrumentation.") {
		if name := sp.Name(); strings.HasSuffix(name, ".chat") || strings.HasSuffix(name, ".completion") {
			return kindLLM
		}
	}
	return kindOther
}

func vercelKind(attrs pcommon.Map) (spanKind, bool) {
	op := getStr(attrs, "ai.operationId")
	if op == "" {
		op, _, _ = strings.Cut(getStr(attrs, "operation.name"), " ")
	}
	switch {
	case op == "":
		return kindOther, false
	case strings.HasSuffix(op, ".doGenerate") || strings.HasSuffix(op, ".doStream"):
		return kindLLM, true
	case op == "ai.toolCall":
		return kindTool, true
	case vercelWrappers[op]:
		return kindAgent, true
	case strings.HasPrefix(op, "ai."):
		return kindOther, true
	}
	return kindOther, false
}

// Model, provider and tool-name attributes in precedence order.
var (
	responseModelKeys = []string{
		"gen_ai.response.model", "llm.response.model_name", "ai.response.model",
		"llm.model_name", "langfuse.observation.model.name",
	}
	requestModelKeys = []string{"gen_ai.request.model", "llm.request.model_name", "ai.model.id"}
	providerKeys     = []string{"gen_ai.provider.name", "llm.provider", "gen_ai.system", "llm.system", "ai.model.provider"}
	toolNameKeys     = []string{"gen_ai.tool.name", "tool.name", "ai.toolCall.name", "traceloop.entity.name"}
)

// models returns the model to report (the responded one, else the
// requested one) and the requested one.
func models(attrs pcommon.Map) (model, request string) {
	model, _ = firstStr(attrs, responseModelKeys)
	request, _ = firstStr(attrs, requestModelKeys)
	if request == "" {
		// OpenInference keeps the request in its invocation parameters.
		if x, ok := structured(attrs, "llm.invocation_parameters"); ok {
			if obj, ok := x.(map[string]any); ok {
				if s, ok := obj["model"].(string); ok {
					request = strings.TrimSpace(s)
				}
			}
		}
	}
	if model == "" {
		model = request
	}
	return model, request
}

// provider returns the provider in lower case. The Vercel AI SDK reports
// "<provider>.<api>" (openai.chat, anthropic.messages) in ai.model.provider
// and copies it to gen_ai.system; the API suffix is cut.
func provider(attrs pcommon.Map) string {
	p, key := firstStr(attrs, providerKeys)
	p = strings.ToLower(p)
	vercel := getStr(attrs, "ai.model.provider")
	if key == "ai.model.provider" || (vercel != "" && strings.EqualFold(vercel, p)) {
		p, _, _ = strings.Cut(p, ".")
	}
	return p
}

func toolName(sp ptrace.Span) string {
	attrs := sp.Attributes()
	if n, _ := firstStr(attrs, toolNameKeys); n != "" {
		return n
	}
	if getStr(attrs, "logfire.msg_template") == "Function: {name}" {
		if n := getStr(attrs, "name"); n != "" {
			return n
		}
	}
	name := strings.TrimSpace(sp.Name())
	if rest, ok := strings.CutPrefix(name, "execute_tool "); ok {
		name = strings.TrimSpace(rest)
	}
	return name
}

// spanStatus returns "ok" or "error" and the error message. An error is a
// span status ERROR, an OTel error.type attribute, or a Langfuse ERROR
// level; its message is the status message, else the exception event's,
// else LiteLLM's error.message, else the error type.
func spanStatus(sp ptrace.Span) (string, string) {
	attrs := sp.Attributes()
	errType := getStr(attrs, "error.type")
	if sp.Status().Code() == ptrace.StatusCodeError || errType != "" {
		msg := strings.TrimSpace(sp.Status().Message())
		if msg == "" {
			msg = exceptionMessage(sp)
		}
		if msg == "" {
			msg = getStr(attrs, "error.message") // LiteLLM
		}
		if msg == "" {
			msg = errType
		}
		return "error", msg
	}
	if strings.EqualFold(getStr(attrs, "langfuse.observation.level"), "ERROR") {
		return "error", getStr(attrs, "langfuse.observation.status_message")
	}
	return "ok", ""
}

func exceptionMessage(sp ptrace.Span) string {
	for _, ev := range sp.Events().All() {
		if ev.Name() != "exception" && ev.Name() != "gen_ai.client.operation.exception" {
			continue
		}
		if m := getStr(ev.Attributes(), "exception.message"); m != "" {
			return m
		}
		if t := getStr(ev.Attributes(), "exception.type"); t != "" {
			return t
		}
	}
	return ""
}
