package genai

import (
	"encoding/json"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// turn is the conversation a span shows: its request and response, or a
// whole conversation in one list (combined).
type turn struct {
	input, output []message
	combined      []message
}

// source reads messages from one place of one convention.
type source func(sp ptrace.Span, kind spanKind) []message

// Where each convention puts the request and the response, in precedence
// order; the first source that yields messages wins.
var (
	inputSources = []source{
		requestMessages("gen_ai.input.messages", false),
		indexed("gen_ai.prompt.", roleUser),
		indexed("llm.input_messages.", roleUser),
		requestMessages("ai.prompt.messages", false),
		requestMessages("ai.prompt", false),
		requestMessages("langfuse.observation.input", true),
		eventInput,
		valueMessages("input.value", "input.mime_type", roleUser),
		requestMessages("langfuse.trace.input", true),
	}
	outputSources = []source{
		attrMessages("gen_ai.output.messages", roleAssistant, false),
		indexed("gen_ai.completion.", roleAssistant),
		indexed("llm.output_messages.", roleAssistant),
		attrMessages("ai.response.text", roleAssistant, true),
		attrMessages("langfuse.observation.output", roleAssistant, true),
		eventOutput,
		valueMessages("output.value", "output.mime_type", roleAssistant),
		attrMessages("langfuse.trace.output", roleAssistant, true),
	}
	// Conversations holding request and response together, used when a
	// span has neither of the above.
	combinedSources = []source{
		attrMessages("events", roleUser, false),                   // Logfire / OpenAI Agents
		attrMessages("pydantic_ai.all_messages", roleUser, false), // Pydantic AI agent run
	}
)

func spanTurn(sp ptrace.Span, kind spanKind) turn {
	var t turn
	t.input = firstSource(inputSources, sp, kind)
	t.output = firstSource(outputSources, sp, kind)
	if len(t.input) == 0 && len(t.output) == 0 {
		t.combined = firstSource(combinedSources, sp, kind)
		if len(t.combined) == 0 && kind == kindAgent {
			t.output = messagesFrom(getStr(sp.Attributes(), "final_result"), roleAssistant)
		}
	}
	return t
}

func firstSource(sources []source, sp ptrace.Span, kind spanKind) []message {
	for _, s := range sources {
		if msgs := s(sp, kind); len(msgs) > 0 {
			return msgs
		}
	}
	return nil
}

// userMessages are the new user messages of the turn; agentMessages the
// agent's texts (the first choice of a model response, every step's text
// of an agent run).
func (t turn) userMessages() []message {
	if t.combined != nil {
		users, _ := lastTurn(t.combined)
		return users
	}
	return userRun(t.input)
}

func (t turn) agentMessages(kind spanKind) []message {
	if t.combined != nil {
		_, agent := lastTurn(t.combined)
		return agent
	}
	return agentTexts(t.output, kind == kindLLM)
}

// attrMessages reads a structured or JSON-string attribute; plain text is
// accepted as one message where the convention allows it.
func attrMessages(key string, def role, plainText bool) source {
	return func(sp ptrace.Span, _ spanKind) []message {
		attrs := sp.Attributes()
		if x, ok := structured(attrs, key); ok {
			return messagesFrom(x, def)
		}
		if plainText {
			return messagesFrom(getStr(attrs, key), def)
		}
		return nil
	}
}

// requestMessages reads a request's message list from its end: only the
// messages after the last assistant or tool message matter (userRun), and
// decoding a long history on every model call of a turn would cost the
// most. Other shapes are read whole by attrMessages.
func requestMessages(key string, plainText bool) source {
	whole := attrMessages(key, roleUser, plainText)
	return func(sp ptrace.Span, kind spanKind) []message {
		v, ok := sp.Attributes().Get(key)
		if !ok {
			return nil
		}
		switch v.Type() {
		case pcommon.ValueTypeSlice:
			list := v.Slice()
			return tailMessages(list.Len(), func(i int) (any, bool) { return list.At(i).AsRaw(), true })
		case pcommon.ValueTypeStr:
			s := strings.TrimSpace(v.Str())
			if !strings.HasPrefix(s, "[") {
				break
			}
			var items []json.RawMessage
			if json.Unmarshal([]byte(s), &items) != nil {
				return nil
			}
			return tailMessages(len(items), func(i int) (any, bool) {
				var x any
				return x, json.Unmarshal(items[i], &x) == nil
			})
		}
		return whole(sp, kind)
	}
}

// tailMessages decodes list items from the last one back to the first
// message that ends the trailing user run (it is kept, so that userRun
// sees where the run stops), and returns them in order.
func tailMessages(n int, item func(int) (any, bool)) []message {
	var rev []message
	for i := n - 1; i >= 0; i-- {
		x, ok := item(i)
		if !ok {
			continue
		}
		msgs := messagesFrom([]any{x}, roleUser)
		if len(msgs) == 0 {
			continue
		}
		m := msgs[0]
		rev = append(rev, m)
		if m.role != roleSystem && !m.userTurn() {
			break
		}
	}
	slices.Reverse(rev)
	return rev
}

func indexed(prefix string, def role) source {
	return func(sp ptrace.Span, _ spanKind) []message {
		return indexedMessages(sp.Attributes(), prefix, def)
	}
}

// valueMessages reads OpenInference's input.value / output.value: JSON
// request or response bodies on model spans; on agent spans also plain
// text (the user's question, the final answer).
func valueMessages(key, mimeKey string, def role) source {
	return func(sp ptrace.Span, kind spanKind) []message {
		attrs := sp.Attributes()
		v := getStr(attrs, key)
		if v == "" {
			return nil
		}
		if strings.EqualFold(getStr(attrs, mimeKey), "text/plain") {
			if kind == kindAgent || (kind == kindLLM && def == roleAssistant) {
				return messagesFrom(v, def)
			}
			return nil
		}
		x, ok := decodeJSON(v)
		if !ok {
			return nil
		}
		if obj, ok := x.(map[string]any); ok {
			// Only message-shaped bodies: {"messages": [...]}, {"choices": [...]},
			// or a single message with a role.
			_, hasMsgs := obj["messages"].([]any)
			_, hasChoices := obj["choices"].([]any)
			_, hasRole := obj["role"].(string)
			if hasMsgs || hasChoices || hasRole {
				return messagesFrom(obj, def)
			}
		}
		return nil
	}
}

// eventInput reads request messages from span events: the per-message
// events of OTel GenAI 1.28-1.36 (Semantic Kernel) and the
// gen_ai.content.prompt event of 1.27 and older (OpenLIT).
func eventInput(sp ptrace.Span, _ spanKind) []message {
	var out []message
	for _, ev := range sp.Events().All() {
		name := ev.Name()
		if name == "gen_ai.content.prompt" {
			if s := getStr(ev.Attributes(), "gen_ai.prompt"); s != "" {
				out = append(out, promptString(s)...)
			}
			continue
		}
		if r, ok := eventRoles[name]; ok && name != "gen_ai.choice" {
			out = append(out, eventMessage(r, ev.Attributes().AsRaw()))
		}
	}
	return out
}

// eventOutput reads gen_ai.choice and gen_ai.content.completion events.
func eventOutput(sp ptrace.Span, _ spanKind) []message {
	var out []message
	for _, ev := range sp.Events().All() {
		switch ev.Name() {
		case "gen_ai.content.completion":
			if s := getStr(ev.Attributes(), "gen_ai.completion"); s != "" {
				out = append(out, completionString(s)...)
			}
		case "gen_ai.choice":
			if m, ok := choiceMessage(ev.Attributes().AsRaw()); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// eventMessage reads a gen_ai.*.message event's fields (span event
// attributes or a log record's body and attributes).
func eventMessage(r role, fields map[string]any) message {
	if s, ok := fields["content"].(string); ok {
		if x, ok := decodeJSON(s); ok {
			if _, isList := x.([]any); isList {
				fields["content"] = x
			}
		}
	}
	return parseMessage(fields, r)
}

// choiceMessage reads a gen_ai.choice event: {index, finish_reason,
// message: {role, content, tool_calls}}, the message sometimes a JSON
// string. Only the first choice (index 0) is a reply.
func choiceMessage(fields map[string]any) (message, bool) {
	if idx, ok := anyCount(fields["index"]); ok && idx != 0 {
		return message{}, false
	}
	switch m := fields["message"].(type) {
	case map[string]any:
		return parseMessage(m, roleAssistant), true
	case string:
		if x, ok := decodeJSON(m); ok {
			if obj, ok := x.(map[string]any); ok {
				return parseMessage(obj, roleAssistant), true
			}
		}
		return message{role: roleAssistant, text: strings.TrimSpace(m)}, true
	}
	if _, ok := fields["content"]; ok {
		return eventMessage(roleAssistant, fields), true
	}
	return message{}, false
}

// promptString reads gen_ai.prompt: JSON messages, else "role: text" lines.
func promptString(s string) []message {
	if x, ok := decodeJSON(s); ok {
		if msgs := messagesFrom(x, roleUser); len(msgs) > 0 {
			return msgs
		}
	}
	return roleLines(s)
}

func completionString(s string) []message {
	if x, ok := decodeJSON(s); ok {
		if msgs := messagesFrom(x, roleAssistant); len(msgs) > 0 {
			return msgs
		}
	}
	return messagesFrom(s, roleAssistant)
}
