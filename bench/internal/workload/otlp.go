package workload

import (
	"crypto/sha256"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// SpanEvents reports whether the event has a span form in AppendSpans:
// LLM and tool calls (spans with the OTel GenAI attributes) and the
// business events of the agentpulse.* convention (span events). Messages
// and cache hits have none: instrumentations carry messages inside the LLM
// spans, as content, which the benchmark's product does not keep.
func SpanEvents(e *Event) bool {
	switch {
	case e.EventType == "action.llm_call", e.EventType == "action.tool_call",
		e.EventType == "feedback.explicit", e.EventType == "session.end":
		return true
	}
	return strings.HasPrefix(e.EventType, "outcome.")
}

// Spans encodes the events that have a span form as one OTLP/HTTP protobuf
// request (POST /v1/traces) and returns it with the number of events it
// makes. Each session is a trace; every event is a span of its own, whose
// ids are derived from the session and the event, so that the same events
// make the same spans.
func Spans(events []Event) ([]byte, int, error) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty()
	ss.Resource().Attributes().PutStr("service.name", "bench-agent")
	spans := ss.ScopeSpans().AppendEmpty()
	spans.Scope().SetName("bench")
	n := 0
	for i := range events {
		e := &events[i]
		if !SpanEvents(e) {
			continue
		}
		sp := spans.Spans().AppendEmpty()
		writeSpan(sp, e)
		n++
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return body, n, err
}

func writeSpan(sp ptrace.Span, e *Event) {
	th := sha256.Sum256([]byte(e.SessionID))
	sh := sha256.Sum256([]byte(e.EventID))
	sp.SetTraceID(pcommon.TraceID(th[:16]))
	sp.SetSpanID(pcommon.SpanID(sh[:8]))
	attrs := sp.Attributes()
	attrs.PutStr("agentpulse.session_id", e.SessionID)
	attrs.PutStr("agentpulse.user_id", e.UserID)
	p := e.Properties
	dur := time.Duration(num(p["duration_ms"])) * time.Millisecond
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(e.Timestamp.Add(-dur)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
	sp.SetKind(ptrace.SpanKindInternal)

	switch e.EventType {
	case "action.llm_call":
		model, _ := p["model"].(string)
		sp.SetName("chat " + model)
		sp.SetKind(ptrace.SpanKindClient)
		attrs.PutStr("gen_ai.operation.name", "chat")
		if prov, _ := p["provider"].(string); prov != "" {
			attrs.PutStr("gen_ai.provider.name", prov)
		}
		attrs.PutStr("gen_ai.request.model", model)
		attrs.PutStr("gen_ai.response.model", model)
		attrs.PutInt("gen_ai.usage.input_tokens", int64(num(p["input_tokens"])))
		attrs.PutInt("gen_ai.usage.output_tokens", int64(num(p["output_tokens"])))
		if c, ok := p["cached_input_tokens"]; ok {
			attrs.PutInt("gen_ai.usage.cache_read.input_tokens", int64(num(c)))
		}
		if p["status"] == "error" {
			sp.Status().SetCode(ptrace.StatusCodeError)
			msg, _ := p["error"].(string)
			sp.Status().SetMessage(msg)
			attrs.PutStr("error.type", msg)
		}
	case "action.tool_call":
		tool, _ := p["tool_name"].(string)
		sp.SetName("execute_tool " + tool)
		attrs.PutStr("gen_ai.operation.name", "execute_tool")
		attrs.PutStr("gen_ai.tool.name", tool)
	default:
		// A business event rides on a span of the agent's own as a span
		// event of the agentpulse.* convention.
		sp.SetName("turn")
		se := sp.Events().AppendEmpty()
		se.SetTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
		ea := se.Attributes()
		switch e.EventType {
		case "outcome.payment":
			se.SetName("agentpulse.payment")
			ea.PutDouble("agentpulse.payment.amount", num(p["amount"]))
			if cur, _ := p["currency"].(string); cur != "" {
				ea.PutStr("agentpulse.payment.currency", cur)
			}
		case "feedback.explicit":
			se.SetName("agentpulse.feedback")
			if v, _ := p["value"].(string); v != "" {
				ea.PutStr("agentpulse.feedback.value", v)
			}
			if s, ok := p["score"]; ok {
				ea.PutDouble("agentpulse.feedback.score", num(s))
			}
		case "session.end":
			se.SetName("agentpulse.session.end")
			if r, _ := p["reason"].(string); r != "" {
				ea.PutStr("agentpulse.session.end_reason", r)
			}
		default:
			se.SetName("agentpulse.outcome")
			ea.PutStr("agentpulse.outcome.name", strings.TrimPrefix(e.EventType, "outcome."))
			for k, v := range p {
				if s, ok := v.(string); ok {
					ea.PutStr("agentpulse.outcome."+k, s)
				}
			}
		}
	}
}

func num(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
