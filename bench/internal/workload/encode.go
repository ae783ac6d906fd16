package workload

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/agentpulse/agentpulse/internal/event"
)

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendBatch appends the body of a POST /v1/events request.
func AppendBatch(dst []byte, events []Event) []byte {
	dst = append(dst, `{"events":[`...)
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = events[i].AppendJSON(dst)
	}
	return append(dst, "]}"...)
}

// AppendJSON appends the event as the HTTP API takes it.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.EventID)
	dst = append(dst, `,"session_id":`...)
	dst = appendString(dst, e.SessionID)
	dst = append(dst, `,"event_type":`...)
	dst = appendString(dst, e.EventType)
	dst = append(dst, `,"timestamp":"`...)
	dst = e.Timestamp.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","user_id":`...)
	dst = appendString(dst, e.UserID)
	dst = append(dst, `,"product_id":`...)
	dst = appendString(dst, e.ProductID)
	if len(e.Metadata) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = appendObject(dst, e.Metadata)
	}
	if len(e.Properties) > 0 {
		dst = append(dst, `,"properties":`...)
		dst = appendObject(dst, e.Properties)
	}
	return append(dst, '}')
}

func appendObject(dst []byte, m map[string]any) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, m[k])
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendString(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(dst, x)
	case map[string]any:
		return appendObject(dst, x)
	case nil:
		return append(dst, "null"...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// ToEvent converts to the collector's event model, as the receiver would
// decode it (maps copied, so the processor may change them).
func (e *Event) ToEvent() event.Event {
	return event.Event{
		EventID: e.EventID, SessionID: e.SessionID, EventType: e.EventType,
		Timestamp: e.Timestamp, UserID: e.UserID, ProductID: e.ProductID,
		Metadata: copyMap(e.Metadata), Properties: copyMap(e.Properties),
	}
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
