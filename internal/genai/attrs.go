package genai

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// firstStr returns the first of keys that holds a non-empty string, and
// that key.
func firstStr(m pcommon.Map, keys []string) (string, string) {
	for _, k := range keys {
		if v, ok := m.Get(k); ok && v.Type() == pcommon.ValueTypeStr {
			if s := strings.TrimSpace(v.Str()); s != "" {
				return s, k
			}
		}
	}
	return "", ""
}

// getStr returns a string attribute, trimmed ("" when absent or not a string).
func getStr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok && v.Type() == pcommon.ValueTypeStr {
		return strings.TrimSpace(v.Str())
	}
	return ""
}

// idString reads an identifier that conventions send as a string, an int
// (OpenLLMetry's session id) or a JSON-encoded string (Langfuse metadata).
// Placeholders such as "null" count as absent.
func idString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := strings.TrimSpace(v.Str())
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			var u string
			if json.Unmarshal([]byte(s), &u) == nil {
				s = strings.TrimSpace(u)
			}
		}
		switch strings.ToLower(s) {
		case "null", "none", "undefined", "nil":
			return ""
		}
		return s
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ""
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ""
}

// count reads a token count: a non-negative integer sent as an int, an
// integral double or a numeric string (Pydantic AI sends "174").
func count(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), v.Int() >= 0
	case pcommon.ValueTypeDouble:
		return floatCount(v.Double())
	case pcommon.ValueTypeStr:
		return stringCount(v.Str())
	}
	return 0, false
}

// number reads a finite number sent as an int, a double or a numeric string.
func number(v pcommon.Value) (float64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case pcommon.ValueTypeStr:
		return stringNumber(v.Str())
	}
	return 0, false
}

func floatCount(f float64) (int64, bool) {
	if f < 0 || f >= math.MaxInt64 || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}

func stringCount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, n >= 0
	}
	if f, ok := stringNumber(s); ok {
		return floatCount(f)
	}
	return 0, false
}

func stringNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// anyCount reads a token count out of decoded JSON or a raw attribute value.
func anyCount(x any) (int64, bool) {
	switch v := x.(type) {
	case float64:
		return floatCount(v)
	case int64:
		return v, v >= 0
	case json.Number:
		return stringCount(v.String())
	case string:
		return stringCount(v)
	}
	return 0, false
}

// anyNumber reads a finite number out of decoded JSON or a raw value.
func anyNumber(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int64:
		return float64(v), true
	case json.Number:
		return stringNumber(v.String())
	case string:
		return stringNumber(v)
	}
	return 0, false
}

// decodeJSON decodes a string that should hold JSON; ok is false when it
// does not.
func decodeJSON(s string) (any, bool) {
	s = strings.TrimSpace(s)
	if s == "" || (s[0] != '{' && s[0] != '[' && s[0] != '"') {
		return nil, false
	}
	var x any
	if err := json.Unmarshal([]byte(s), &x); err != nil {
		return nil, false
	}
	return x, true
}

// structured returns an attribute as decoded data: structured values as they
// are, strings decoded as JSON (most emitters send JSON strings where the
// spec asks for structured values).
func structured(m pcommon.Map, key string) (any, bool) {
	v, ok := m.Get(key)
	if !ok {
		return nil, false
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return decodeJSON(v.Str())
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		return v.AsRaw(), true
	}
	return nil, false
}

// addSat adds non-negative counts without overflowing.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
