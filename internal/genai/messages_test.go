package genai

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

func TestUserRun(t *testing.T) {
	u := func(s string) message { return message{role: roleUser, text: s} }
	a := func(s string) message { return message{role: roleAssistant, text: s} }
	sys := message{role: roleSystem, text: "be nice"}
	toolCall := message{role: roleAssistant, toolOnly: true}
	toolResult := message{role: roleTool, text: "42"}
	toolAsUser := message{role: roleUser, toolOnly: true} // Pydantic AI's tool return
	for _, tc := range []struct {
		name  string
		input []message
		want  []message
	}{
		{"first turn", []message{sys, u("hi")}, []message{u("hi")}},
		{"second turn: history is not new", []message{sys, u("hi"), a("hello"), u("book a flight")}, []message{u("book a flight")}},
		{"two user messages in a row", []message{u("hi"), a("hello"), u("one"), u("two")}, []message{u("one"), u("two")}},
		{"loop continues after a tool result", []message{u("hi"), toolCall, toolResult}, nil},
		{"tool return sent as a user message", []message{u("hi"), toolCall, toolAsUser}, nil},
		{"system message after the user", []message{u("hi"), sys}, []message{u("hi")}},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, userRun(tc.input))
		})
	}

	users, agent := lastTurn([]message{sys, u("old"), a("old answer"), u("new"), toolCall, toolAsUser, a("step text"), a("final")})
	assert.Equal(t, []message{u("new")}, users)
	assert.Equal(t, []message{a("step text"), a("final")}, agent)
}

func TestMessageShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want []message
	}{
		{"openai string content", `[{"role":"user","content":"hi"}]`, []message{{role: roleUser, text: "hi"}}},
		{"openai parts with an image", `[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"x"}}]}]`,
			[]message{{role: roleUser, text: "what is this?", media: true}}},
		{"image only", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]`,
			[]message{{role: roleUser, media: true}}},
		{"otel parts", `[{"role":"assistant","parts":[{"type":"text","content":"a"},{"type":"tool_call","id":"1","name":"f"}]}]`,
			[]message{{role: roleAssistant, text: "a"}}},
		{"otel tool call only", `[{"role":"assistant","parts":[{"type":"tool_call","id":"1","name":"f"}]}]`,
			[]message{{role: roleAssistant, toolOnly: true}}},
		{"anthropic thinking is not text", `[{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"yes"}]}]`,
			[]message{{role: roleAssistant, text: "yes"}}},
		{"gemini", `[{"role":"model","parts":[{"text":"hi there"}]}]`, []message{{role: roleAssistant, text: "hi there"}}},
		{"vercel tool result", `[{"role":"tool","content":[{"type":"tool-result","toolCallId":"1","output":"x"}]}]`,
			[]message{{role: roleTool, toolOnly: true}}},
		{"openai tool_calls", `[{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]}]`,
			[]message{{role: roleAssistant, toolOnly: true}}},
		{"vercel prompt", `{"system":"s","prompt":"hello"}`, []message{{role: roleUser, text: "hello"}}},
		{"sanitized history is not a message", `{"messages":"[sanitized conversation history]"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, ok := decodeJSON(tc.json)
			require.True(t, ok)
			assert.Equal(t, tc.want, messagesFrom(x, roleUser))
		})
	}
}

func TestRoleLines(t *testing.T) {
	assert.Equal(t, []message{
		{role: roleSystem, text: "be brief"},
		{role: roleUser, text: "first line\nsecond line: with a colon"},
		{role: roleAssistant, text: "ok"},
		{role: roleUser, text: "thanks"},
	}, roleLines("system: be brief\nuser: first line\nsecond line: with a colon\nassistant: ok\nuser: thanks"))
	assert.Equal(t, []message{{role: roleUser, text: "no roles here"}}, roleLines("no roles here"))
}

func TestIndexedMessagesOrder(t *testing.T) {
	td := ptrace.NewTraces()
	attrs := map[string]any{"openinference.span.kind": "LLM"}
	for i := range 11 {
		p := "llm.input_messages." + itoa(i) + ".message."
		if i%2 == 0 {
			attrs[p+"role"], attrs[p+"content"] = "user", "question "+itoa(i)
		} else {
			attrs[p+"role"], attrs[p+"content"] = "assistant", "answer "+itoa(i)
		}
	}
	// Index 10 sorts after 9 (not after 1): it is the last, new message.
	attrs["llm.input_messages.10.message.contents.0.message_content.type"] = "text"
	sp := newSpan(td, 1, 1, 0, attrs)
	assert.Equal(t, "question 10", userRun(indexedMessages(sp.Attributes(), "llm.input_messages.", roleUser))[0].text)
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestMessageEventsOfATrace(t *testing.T) {
	td := ptrace.NewTraces()
	input := `[{"role":"system","content":"s"},{"role":"user","content":"hi"}]`
	// A first attempt and a retry of the same request: one user message,
	// at the first attempt's start; two different answers.
	newSpan(td, 1, 2, 0, chatAttrs(map[string]any{
		"gen_ai.input.messages": input, "gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"first"}]},{"role":"assistant","parts":[{"type":"text","content":"alternative choice"}]}]`,
	}))
	newSpan(td, 1, 3, 0, chatAttrs(map[string]any{
		"gen_ai.input.messages": input, "gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"second"}]}]`,
	}))
	// The same text in another trace is another message.
	newSpan(td, 2, 4, 0, chatAttrs(map[string]any{"gen_ai.input.messages": input}))

	out, _ := MapTraces(td, Options{ProductID: testProduct})
	var got []string
	for _, m := range out {
		if !m.Call {
			got = append(got, m.Event.EventType+" "+m.Event.Properties["content"].(string)+" @"+itoa(int(m.Event.Timestamp.Unix())))
		}
	}
	assert.Equal(t, []string{
		"message.user hi @02",
		"message.agent first @02", // span 2 ends at 2.25 s
		"message.agent second @03",
		"message.user hi @04",
	}, got)
}

func TestContentClipping(t *testing.T) {
	td := ptrace.NewTraces()
	text := "héllo wörld \xff end"
	newSpan(td, 1, 1, 0, chatAttrs(map[string]any{
		"gen_ai.input.messages": `[{"role":"user","content":"` + text + `"}]`,
	}))
	out, _ := MapTraces(td, Options{ProductID: testProduct, MaxContentBytes: 8})
	var e event.Event
	for _, m := range out {
		if m.Event.EventType == event.TypeMessageUser {
			e = m.Event
		}
	}
	require.NotEmpty(t, e.EventID)
	// The JSON decoder already turned the bad byte into U+FFFD.
	full := strings.ToValidUTF8(text, "\uFFFD")
	assert.Equal(t, int64(len([]rune(full))), e.Properties["content_length"])
	// 8 bytes: "h", "é" (2 bytes), "llo " = 7 bytes, then "w" = 8.
	assert.Equal(t, "héllo w", e.Properties["content"])
	assert.True(t, e.Truncated)
}

func TestAgentSpanMessages(t *testing.T) {
	td := ptrace.NewTraces()
	// An OpenInference AGENT with plain text input/output and a CHAIN with
	// JSON input: only the agent's messages count.
	newSpan(td, 1, 1, 0, map[string]any{
		"openinference.span.kind": "AGENT", "input.mime_type": "text/plain", "input.value": "plan my trip",
		"output.mime_type": "text/plain", "output.value": "here is the plan",
	})
	newSpan(td, 1, 2, 1, map[string]any{
		"openinference.span.kind": "CHAIN", "input.mime_type": "text/plain", "input.value": "formatted prompt",
	})
	out, _ := MapTraces(td, Options{ProductID: testProduct})
	require.Len(t, out, 2)
	assert.Equal(t, event.TypeMessageUser, out[0].Event.EventType)
	assert.Equal(t, "plan my trip", out[0].Event.Properties["content"])
	assert.Equal(t, event.TypeMessageAgent, out[1].Event.EventType)
	assert.Equal(t, "here is the plan", out[1].Event.Properties["content"])
}
