package genai

import (
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

type role uint8

const (
	roleOther role = iota
	roleSystem
	roleUser
	roleAssistant
	roleTool
)

// roleNames maps every role spelling the conventions use.
var roleNames = map[string]role{
	"user": roleUser, "human": roleUser,
	"assistant": roleAssistant, "ai": roleAssistant, "model": roleAssistant, "bot": roleAssistant, "chatbot": roleAssistant,
	"system": roleSystem, "developer": roleSystem,
	"tool": roleTool, "function": roleTool, "ipython": roleTool,
}

func parseRole(s string) role {
	return roleNames[strings.ToLower(strings.TrimSpace(s))]
}

// eventRoles maps the per-message event names of OTel GenAI 1.28-1.36
// (span events or log records) to roles; gen_ai.choice is the response.
var eventRoles = map[string]role{
	"gen_ai.system.message":    roleSystem,
	"gen_ai.user.message":      roleUser,
	"gen_ai.assistant.message": roleAssistant,
	"gen_ai.tool.message":      roleTool,
	"gen_ai.choice":            roleAssistant,
}

// message is one chat message reduced to what AgentPulse counts: who said
// it and the text a person would read.
type message struct {
	role     role
	text     string // text parts joined by newlines; reasoning is left out
	media    bool   // image, audio or file parts
	toolOnly bool   // only tool calls or tool results, no text
}

// userTurn reports whether the message is something a user said (a user
// message that carries tool results only is part of the agent loop).
func (m message) userTurn() bool {
	return m.role == roleUser && !m.toolOnly && (m.text != "" || m.media)
}

func (m message) agentText() bool {
	return m.role == roleAssistant && m.text != ""
}

// Part types, across OTel, OpenAI, Anthropic, Vercel AI SDK and Gemini.
var (
	textParts = map[string]bool{"text": true, "input_text": true, "output_text": true}
	skipParts = map[string]bool{"reasoning": true, "thinking": true, "redacted_thinking": true}
	toolParts = map[string]bool{
		"tool_call": true, "tool-call": true, "tool_use": true, "function_call": true, "server_tool_use": true,
		"tool_call_response": true, "tool-result": true, "tool_result": true, "function_call_output": true,
		"function_response": true, "tool-approval-request": true, "tool-approval-response": true,
	}
)

// messagesFrom reads a message list in any of the shapes the conventions
// use: a list of messages, {"messages": [...]}, Vercel's {"prompt": ...},
// an OpenAI response {"choices": [...]}, a single message object, or a
// plain string (a message of role def).
func messagesFrom(x any, def role) []message {
	switch v := x.(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			return []message{{role: def, text: s}}
		}
	case []any:
		out := make([]message, 0, len(v))
		for _, item := range v {
			switch it := item.(type) {
			case map[string]any:
				out = append(out, parseMessage(it, def))
			case string:
				out = append(out, messagesFrom(it, def)...)
			}
		}
		return out
	case map[string]any:
		if list, ok := v["messages"].([]any); ok {
			return messagesFrom(list, def)
		}
		if choices, ok := v["choices"].([]any); ok {
			return choiceMessages(choices)
		}
		if p, ok := v["prompt"]; ok {
			return messagesFrom(p, roleUser)
		}
		if _, ok := v["role"]; ok {
			return []message{parseMessage(v, def)}
		}
		if _, ok := v["content"]; ok {
			return []message{parseMessage(v, def)}
		}
		if _, ok := v["parts"]; ok {
			return []message{parseMessage(v, def)}
		}
	}
	return nil
}

func choiceMessages(choices []any) []message {
	var out []message
	for _, c := range choices {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if m, ok := cm["message"].(map[string]any); ok {
			out = append(out, parseMessage(m, roleAssistant))
		} else if t, ok := cm["text"].(string); ok {
			out = append(out, message{role: roleAssistant, text: strings.TrimSpace(t)})
		}
	}
	return out
}

// parseMessage reads one message object: role (or a Logfire "event.name"),
// then content as a string or a list of parts, OTel/Gemini "parts", and
// tool-call markers.
func parseMessage(m map[string]any, def role) message {
	msg := message{role: def}
	if r, ok := m["role"].(string); ok && parseRole(r) != roleOther {
		msg.role = parseRole(r)
	} else if name, ok := m["event.name"].(string); ok {
		if r, ok := eventRoles[name]; ok {
			msg.role = r
		}
	}

	var texts []string
	hasTool := false
	addParts := func(x any) {
		t, media, tool := partsText(x)
		texts = append(texts, t...)
		msg.media = msg.media || media
		hasTool = hasTool || tool
	}
	switch c := m["content"].(type) {
	case string:
		if s := strings.TrimSpace(c); s != "" {
			texts = append(texts, s)
		}
	case []any, map[string]any:
		addParts(c)
	}
	if p, ok := m["parts"]; ok {
		addParts(p)
	}
	if len(texts) == 0 {
		if t, ok := m["text"].(string); ok && strings.TrimSpace(t) != "" {
			texts = append(texts, strings.TrimSpace(t))
		}
	}
	if tc, ok := m["tool_calls"].([]any); ok && len(tc) > 0 {
		hasTool = true
	}
	if m["function_call"] != nil || m["tool_call_id"] != nil {
		hasTool = true
	}

	msg.text = strings.Join(texts, "\n")
	msg.toolOnly = hasTool && msg.text == "" && !msg.media
	return msg
}

// partsText walks content parts and returns their texts, whether any part
// is media, and whether any is a tool call or result.
func partsText(x any) (texts []string, media, tool bool) {
	var list []any
	switch v := x.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, false, false
	}
	for _, item := range list {
		switch p := item.(type) {
		case string:
			if s := strings.TrimSpace(p); s != "" {
				texts = append(texts, s)
			}
		case map[string]any:
			typ, _ := p["type"].(string)
			typ = strings.ToLower(typ)
			switch {
			case skipParts[typ]:
			case toolParts[typ] || p["functionCall"] != nil || p["functionResponse"] != nil:
				tool = true
			case textParts[typ] || typ == "":
				s, ok := p["text"].(string)
				if !ok {
					s, ok = p["content"].(string)
				}
				if s = strings.TrimSpace(s); ok && s != "" {
					texts = append(texts, s)
				} else if typ == "" && !ok {
					media = true
				}
			default:
				media = true
			}
		}
	}
	return texts, media, tool
}

// indexedMessages reads flattened messages: OpenLLMetry's
// gen_ai.prompt.N.{role,content} and OpenInference's
// llm.input_messages.N.message.{role,content,contents.M.message_content.*}.
func indexedMessages(attrs pcommon.Map, prefix string, def role) []message {
	type fields struct {
		role, content string
		contents      map[int]map[string]string
		tool          bool
	}
	byIndex := map[int]*fields{}
	for k, v := range attrs.All() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 {
			continue
		}
		f := byIndex[i]
		if f == nil {
			f = &fields{}
			byIndex[i] = f
		}
		field = strings.TrimPrefix(field, "message.")
		switch {
		case field == "role":
			f.role = v.AsString()
		case field == "content":
			f.content = v.AsString()
		case strings.HasPrefix(field, "tool_calls.") || field == "tool_call_id" || strings.HasPrefix(field, "function_call."):
			f.tool = true
		case strings.HasPrefix(field, "contents."):
			num, sub, ok := strings.Cut(strings.TrimPrefix(field, "contents."), ".")
			j, err := strconv.Atoi(num)
			if !ok || err != nil {
				continue
			}
			if f.contents == nil {
				f.contents = map[int]map[string]string{}
			}
			if f.contents[j] == nil {
				f.contents[j] = map[string]string{}
			}
			f.contents[j][strings.TrimPrefix(sub, "message_content.")] = v.AsString()
		}
	}
	if len(byIndex) == 0 {
		return nil
	}

	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]message, 0, len(idx))
	for _, i := range idx {
		f := byIndex[i]
		m := message{role: def}
		if r := parseRole(f.role); r != roleOther {
			m.role = r
		}
		m.text = strings.TrimSpace(f.content)
		if x, ok := decodeJSON(m.text); ok {
			// OpenLLMetry writes list content as a JSON string.
			if _, isList := x.([]any); isList {
				t, media, tool := partsText(x)
				m.text, m.media, f.tool = strings.Join(t, "\n"), media, f.tool || tool
			}
		}
		if m.text == "" && len(f.contents) > 0 {
			m.text, m.media = contentsText(f.contents)
		}
		m.toolOnly = f.tool && m.text == "" && !m.media
		out = append(out, m)
	}
	return out
}

func contentsText(contents map[int]map[string]string) (string, bool) {
	idx := make([]int, 0, len(contents))
	for j := range contents {
		idx = append(idx, j)
	}
	sort.Ints(idx)
	var texts []string
	media := false
	for _, j := range idx {
		c := contents[j]
		typ := strings.ToLower(c["type"])
		if t := strings.TrimSpace(c["text"]); (typ == "" || typ == "text") && t != "" {
			texts = append(texts, t)
		} else if typ != "" && typ != "text" {
			media = true
		}
	}
	return strings.Join(texts, "\n"), media
}

// roleLines parses OpenLIT's "role: content" prompt strings; text without a
// role prefix is one user message.
func roleLines(s string) []message {
	var out []message
	for line := range strings.SplitSeq(s, "\n") {
		if name, rest, ok := strings.Cut(line, ": "); ok && parseRole(name) != roleOther && !strings.ContainsAny(name, " \t") {
			out = append(out, message{role: parseRole(name), text: rest})
			continue
		}
		if len(out) == 0 {
			out = append(out, message{role: roleUser})
		}
		last := &out[len(out)-1]
		if last.text == "" {
			last.text = line
		} else {
			last.text += "\n" + line
		}
	}
	for i := range out {
		out[i].text = strings.TrimSpace(out[i].text)
	}
	return out
}

// userRun returns the user messages at the end of a request: the ones after
// the last assistant or tool message. A request whose last message is a tool
// result continues the agent loop and holds no new user message.
func userRun(input []message) []message {
	var out []message
	for _, m := range input[userRunStart(input):] {
		if m.userTurn() {
			out = append(out, m)
		}
	}
	return out
}

// userRunStart is the index where the trailing user messages begin
// (system messages among them are skipped); len(input) when there are none.
func userRunStart(input []message) int {
	start := len(input)
	for i := len(input) - 1; i >= 0; i-- {
		m := input[i]
		if m.role == roleSystem {
			continue
		}
		if !m.userTurn() {
			break
		}
		start = i
	}
	return start
}

// lastTurn splits a whole conversation (request and response in one list,
// as Pydantic AI's all_messages and Logfire's events hold it) into the user
// messages of the last turn and the agent's texts after them.
func lastTurn(conv []message) (users, agent []message) {
	last := -1
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i].userTurn() {
			last = i
			break
		}
	}
	if last < 0 {
		return nil, agentTexts(conv, false)
	}
	users = userRun(conv[:last+1])
	return users, agentTexts(conv[last+1:], false)
}

// agentTexts returns the assistant messages with text: the first one for a
// model response (further entries are alternative choices), all of them for
// an agent's output (one per step).
func agentTexts(msgs []message, firstOnly bool) []message {
	var out []message
	for _, m := range msgs {
		if m.agentText() {
			out = append(out, m)
			if firstOnly {
				break
			}
		}
	}
	return out
}
