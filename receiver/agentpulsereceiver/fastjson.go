package agentpulsereceiver

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// parseBatch is the fast path of decodeBatch: one pass over a body of the
// usual shape, an object whose "events" key holds an array, giving each
// element exactly as encoding/json decodes it into an interface value with
// UseNumber (objects as map[string]any, numbers as json.Number, invalid
// UTF-8 and lone surrogates as U+FFFD, the last of duplicate keys).
//
// ok is false for anything else: invalid JSON, another shape, a key that
// differs from "events" only in case (encoding/json matches it too). The
// caller then decodes the body with encoding/json, which gives the exact
// error message. Decoding with encoding/json costs about four times as
// much: it validates the body, then decodes each event twice.
func parseBatch(body []byte) (events []any, ok bool) {
	p := jsonParser{b: body}
	p.space()
	if !p.take('{') {
		return nil, false
	}
	found := false
	p.space()
	if p.take('}') {
		return nil, false
	}
	for {
		p.space()
		key, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if !p.take(':') {
			return nil, false
		}
		p.space()
		switch {
		case key == "events":
			if !p.peek('[') {
				return nil, false
			}
			v, ok := p.value()
			if !ok {
				return nil, false
			}
			events, found = v.([]any), true
		case strings.EqualFold(key, "events"):
			return nil, false
		default:
			if _, ok := p.value(); !ok {
				return nil, false
			}
		}
		p.space()
		if p.take(',') {
			continue
		}
		if !p.take('}') {
			return nil, false
		}
		break
	}
	p.space()
	if p.i != len(p.b) || !found {
		return nil, false
	}
	if events == nil {
		events = []any{}
	}
	return events, true
}

// maxNesting is encoding/json's limit on nesting; deeper input takes the
// slow path, which reports it.
const maxNesting = 10000

type jsonParser struct {
	b     []byte
	i     int
	depth int
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *jsonParser) take(c byte) bool {
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) value() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *jsonParser) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *jsonParser) object() (any, bool) {
	p.i++ // '{'
	if p.depth++; p.depth > maxNesting {
		return nil, false
	}
	defer func() { p.depth-- }()
	m := make(map[string]any, 8)
	p.space()
	if p.take('}') {
		return m, true
	}
	for {
		p.space()
		key, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if !p.take(':') {
			return nil, false
		}
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		m[key] = v
		p.space()
		if p.take(',') {
			continue
		}
		if p.take('}') {
			return m, true
		}
		return nil, false
	}
}

func (p *jsonParser) array() (any, bool) {
	p.i++ // '['
	if p.depth++; p.depth > maxNesting {
		return nil, false
	}
	defer func() { p.depth-- }()
	a := []any{}
	p.space()
	if p.take(']') {
		return a, true
	}
	for {
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.space()
		if p.take(',') {
			continue
		}
		if p.take(']') {
			return a, true
		}
		return nil, false
	}
}

// number reads a number in JSON's grammar and keeps its text.
func (p *jsonParser) number() (any, bool) {
	start := p.i
	p.take('-')
	switch {
	case p.take('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.take('.') {
		if !p.digits() {
			return nil, false
		}
	}
	if p.take('e') || p.take('E') {
		if !p.take('+') {
			p.take('-')
		}
		if !p.digits() {
			return nil, false
		}
	}
	return json.Number(p.b[start:p.i]), true
}

func (p *jsonParser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// str reads a string. Plain ones (ASCII, no escapes) are copied at once,
// and the common keys and values are not copied at all.
func (p *jsonParser) str() (string, bool) {
	if !p.take('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if s, ok := commonStrings[string(raw)]; ok {
				return s, true
			}
			return string(raw), true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return p.strSlow(start)
		}
		p.i++
	}
	return "", false
}

// strSlow finishes a string with escapes or non-ASCII bytes, as
// encoding/json unquotes it.
func (p *jsonParser) strSlow(start int) (string, bool) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return "", false
			}
			switch e := p.b[p.i]; e {
			case '"', '\\', '/':
				out = append(out, e)
				p.i++
			case 'b':
				out = append(out, '\b')
				p.i++
			case 'f':
				out = append(out, '\f')
				p.i++
			case 'n':
				out = append(out, '\n')
				p.i++
			case 'r':
				out = append(out, '\r')
				p.i++
			case 't':
				out = append(out, '\t')
				p.i++
			case 'u':
				r, ok := p.hex4(p.i + 1)
				if !ok {
					return "", false
				}
				p.i += 5
				if utf16.IsSurrogate(r) {
					// A valid pair is one character; anything else makes
					// the first half U+FFFD and leaves the rest to be read
					// on its own.
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						if r2, ok := p.hex4(p.i + 2); ok {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								out = utf8.AppendRune(out, d)
								p.i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			out = utf8.AppendRune(out, r)
			p.i += size
		}
	}
	return "", false
}

func (p *jsonParser) hex4(at int) (rune, bool) {
	if at+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// commonStrings are the keys and values most events carry, shared instead
// of allocated for each event.
var commonStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"events", "event_id", "session_id", "event_type", "timestamp", "user_id", "product_id", "metadata", "properties",
		"content", "content_length", "model", "provider", "input_tokens", "output_tokens", "cached_input_tokens",
		"cache_creation_input_tokens", "reasoning_tokens", "duration_ms", "cost_usd", "status", "error", "tool_name",
		"cache_name", "saved_cost_usd", "amount", "currency", "value", "score", "reason", "channel", "topic", "plan",
		"message.user", "message.agent", "action.llm_call", "action.tool_call", "action.cache_hit", "outcome.payment",
		"outcome.artifact", "outcome.handoff", "outcome.abandon", "outcome.error", "feedback.explicit",
		"feedback.implicit", "session.end", "ok", "USD", "EUR",
	} {
		m[s] = s
	}
	return m
}()
