package genai

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// fuzzKeys are the attribute names the mapping reads, so that random
// payloads reach every branch.
var fuzzKeys = func() []string {
	keys := []string{
		"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt.0.role", "gen_ai.prompt.0.content",
		"gen_ai.prompt.12.content", "gen_ai.completion.0.content", "llm.input_messages.0.message.role",
		"llm.input_messages.0.message.content", "llm.input_messages.3.message.contents.0.message_content.text",
		"llm.input_messages.x.message.role", "llm.output_messages.0.message.content", "llm.output_messages.0.message.tool_calls.0.tool_call.id",
		"ai.prompt", "ai.prompt.messages", "ai.response.text", "ai.operationId", "operation.name", "ai.model.provider",
		"events", "pydantic_ai.all_messages", "final_result", "input.value", "input.mime_type", "output.value",
		"output.mime_type", "langfuse.observation.input", "langfuse.observation.output", "langfuse.trace.input",
		"langfuse.observation.usage_details", "langfuse.observation.cost_details", "langfuse.observation.level",
		"llm.invocation_parameters", "usage", "error.type", "agent_trace_id", "group_id", "logfire.msg_template", "name",
		AttrSessionID, AttrUserID, AttrTopic, AttrMetadataPrefix + "channel",
	}
	for _, r := range kindRules {
		keys = append(keys, r.key)
	}
	for _, k := range tokenKeys {
		keys = append(keys, k.name)
	}
	keys = append(keys, sessionKeys...)
	keys = append(keys, userKeys...)
	keys = append(keys, responseModelKeys...)
	keys = append(keys, requestModelKeys...)
	keys = append(keys, providerKeys...)
	keys = append(keys, toolNameKeys...)
	keys = append(keys, costKeys...)
	return keys
}()

var fuzzStrings = []string{
	"", "chat", "execute_tool", "invoke_agent", "LLM", "TOOL", "AGENT", "generation", "tool", "chat", "text/plain",
	"anthropic", "openai.chat", "claude-3-5-sonnet", "null", `"quoted"`, "174", "-3", "1e400", "NaN",
	"ai.generateText.doGenerate", "ai.streamText", "ai.toolCall", "Function: {name}", "Agent run: {name!r}",
	`[{"role":"user","content":"hi"}]`, `[{"role":"user","parts":[{"type":"text","content":"x"}]},{"role":"assistant","parts":[{"type":"tool_call"}]}]`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}]}`,
	`{"choices":[{"message":{"role":"assistant","content":"b"}},{"text":"c"}]}`, `{"prompt":["x",{"role":"user"}]}`,
	`[{"event.name":"gen_ai.user.message","content":"u"},{"event.name":"gen_ai.choice","message":"{}"}]`,
	`{"input":5,"output":"7","cache_read_input_tokens":1e300,"total":3}`, `{"prompt_tokens_details":{"cached_tokens":-1}}`,
	`{"input_tokens":1,"input_tokens_details":{"cached_tokens":9}}`, `{"total":"x","input":0.1}`,
	"user: a\nassistant: b\nnot a role: c", "[1,2,", "{", "\xff\xfe", "\x00",
}

var fuzzEventNames = []string{
	EventOutcome, EventPayment, EventFeedback, EventSessionEnd, "gen_ai.content.prompt", "gen_ai.content.completion",
	"gen_ai.user.message", "gen_ai.system.message", "gen_ai.assistant.message", "gen_ai.tool.message", "gen_ai.choice",
	"exception", "gen_ai.client.inference.operation.details", "other",
}

var fuzzEventKeys = []string{
	AttrOutcomeName, "agentpulse.outcome.extra", AttrPaymentAmount, AttrPaymentCurrency, AttrFeedbackKind,
	AttrFeedbackValue, AttrFeedbackScore, AttrSessionEndReason, "gen_ai.prompt", "gen_ai.completion", "content",
	"message", "index", "role", "tool_calls", "exception.message", "gen_ai.input.messages", "gen_ai.output.messages",
}

// fuzzReader turns fuzz bytes into choices.
type fuzzReader struct{ data []byte }

func (r *fuzzReader) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzReader) uint64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = r.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

func (r *fuzzReader) pick(list []string) string { return list[int(r.byte())%len(list)] }

func (r *fuzzReader) str() string {
	if r.byte()%3 == 0 {
		n := int(r.byte()) % 24
		if n > len(r.data) {
			n = len(r.data)
		}
		s := string(r.data[:n])
		r.data = r.data[n:]
		return s
	}
	return r.pick(fuzzStrings)
}

func (r *fuzzReader) value(v pcommon.Value) {
	switch r.byte() % 7 {
	case 0, 1:
		v.SetStr(r.str())
	case 2:
		v.SetInt(int64(r.uint64()))
	case 3:
		v.SetDouble(math.Float64frombits(r.uint64()))
	case 4:
		v.SetBool(r.byte()%2 == 0)
	case 5:
		s := v.SetEmptySlice()
		for range int(r.byte()) % 3 {
			r.value(s.AppendEmpty())
		}
	case 6:
		m := v.SetEmptyMap()
		for range int(r.byte()) % 3 {
			r.value(m.PutEmpty(r.pick([]string{"role", "content", "parts", "type", "text", "message", "index"})))
		}
	}
}

func (r *fuzzReader) attrs(m pcommon.Map, keys []string) {
	for range int(r.byte()) % 8 {
		r.value(m.PutEmpty(r.pick(keys)))
	}
}

func (r *fuzzReader) traces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	r.attrs(rs.Resource().Attributes(), fuzzKeys)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(r.pick([]string{"", "opentelemetry.instrumentation.langchain", "ai", "gen_ai"}))
	for range 1 + int(r.byte())%6 {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(r.pick([]string{"chat gpt-4", "ChatOpenAI.chat", "execute_tool x", "", "\xff"}))
		sp.SetTraceID(pcommon.TraceID{15: r.byte() % 3})
		sp.SetSpanID(pcommon.SpanID{7: r.byte() % 5})
		sp.SetParentSpanID(pcommon.SpanID{7: r.byte() % 5})
		sp.SetStartTimestamp(pcommon.Timestamp(r.uint64()))
		sp.SetEndTimestamp(pcommon.Timestamp(r.uint64()))
		if r.byte()%4 == 0 {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(r.str())
		}
		r.attrs(sp.Attributes(), fuzzKeys)
		for range int(r.byte()) % 3 {
			ev := sp.Events().AppendEmpty()
			ev.SetName(r.pick(fuzzEventNames))
			ev.SetTimestamp(pcommon.Timestamp(r.uint64()))
			r.attrs(ev.Attributes(), fuzzEventKeys)
		}
	}
	return td
}

func (r *fuzzReader) logs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	r.attrs(rl.Resource().Attributes(), fuzzKeys)
	sl := rl.ScopeLogs().AppendEmpty()
	for range 1 + int(r.byte())%6 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(r.pick(fuzzEventNames))
		lr.SetTraceID(pcommon.TraceID{15: r.byte() % 2})
		lr.SetSpanID(pcommon.SpanID{7: r.byte() % 2})
		lr.SetTimestamp(pcommon.Timestamp(r.uint64()))
		r.value(lr.Body())
		r.attrs(lr.Attributes(), append(fuzzEventKeys, fuzzKeys...))
	}
	return ld
}

// checkInvariants holds for any input: every event is complete, counts are
// consistent with the contract, content is valid and bounded.
func checkInvariants(t *testing.T, out []Mapped, maxContent int) {
	for _, m := range out {
		e := m.Event
		if e.EventID == "" || e.EventType == "" || e.UserID == "" || e.ProductID != "p" {
			t.Fatalf("incomplete event %+v", e)
		}
		if len(e.SessionID) > MaxIDBytes+len("sha256:") || len(e.UserID) > MaxIDBytes+len(AnonymousPrefix)+len("sha256:")+64 {
			t.Fatalf("id too long: %d / %d bytes", len(e.SessionID), len(e.UserID))
		}
		p := e.Properties
		for k, v := range p {
			if s, ok := v.(string); ok && !utf8.ValidString(s) {
				t.Fatalf("%s is not valid UTF-8", k)
			}
			if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				t.Fatalf("%s is %v", k, f)
			}
		}
		if c, ok := p["content"].(string); ok && len(c) > maxContent {
			t.Fatalf("content of %d bytes over %d", len(c), maxContent)
		}
		if e.EventType != event.TypeLLMCall {
			continue
		}
		in, _ := event.Int(p, "input_tokens")
		out, _ := event.Int(p, "output_tokens")
		cached, _ := event.Int(p, "cached_input_tokens")
		created, _ := event.Int(p, "cache_creation_input_tokens")
		reasoning, _ := event.Int(p, "reasoning_tokens")
		if in < 0 || out < 0 || cached < 0 || created < 0 || reasoning < 0 {
			t.Fatalf("negative count in %v", p)
		}
		if in < addSat(cached, created) || out < reasoning {
			t.Fatalf("counts not inclusive: %v", p)
		}
	}
}

func FuzzMapTraces(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("fuzz seed with several attributes and some text to consume"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{data: data}
		maxContent := 1 + int(r.byte())
		opts := Options{ProductID: "p", MaxContentBytes: maxContent}
		td := r.traces()
		out, _ := MapTraces(td, opts)
		checkInvariants(t, out, maxContent)
		Annotate(td, out)
		logged, _ := MapLogs(r.logs(), opts)
		checkInvariants(t, logged, maxContent)
	})
}

// FuzzMapTracesJSON feeds raw OTLP/JSON (seeded with the fixtures when
// present) through the collector's decoder and the mapping.
func FuzzMapTracesJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		out, _ := MapTraces(td, Options{ProductID: "p"})
		checkInvariants(t, out, DefaultMaxContentBytes)
		Annotate(td, out)
	})
}
