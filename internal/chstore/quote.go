package chstore

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// sqlText is a piece of SQL that is safe to place in a query: static text
// written in this package, or a value that went through one of the quoting
// functions below. Query templates only receive sqlText values.
type sqlText string

// quoteString writes s as a ClickHouse string literal. Quotes and
// backslashes are escaped, and every control byte and every byte of an
// invalid UTF-8 sequence is written as \xHH, so the literal is plain
// printable text that survives a C string (NUL included) and any client.
func quoteString(s string) sqlText {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	writeEscaped(&b, s, '\'')
	b.WriteByte('\'')
	return sqlText(b.String())
}

// quoteIdent writes s as a back-quoted ClickHouse identifier with the same
// escaping as quoteString.
func quoteIdent(s string) sqlText {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('`')
	writeEscaped(&b, s, '`')
	b.WriteByte('`')
	return sqlText(b.String())
}

const hexDigits = "0123456789abcdef"

func writeEscaped(b *strings.Builder, s string, quote byte) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				writeHexByte(b, c)
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			writeHexByte(b, c)
		default:
			b.WriteByte(c)
		}
		i++
	}
}

func writeHexByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0x0f])
}

// quoteInt writes an integer literal.
func quoteInt(n int64) sqlText {
	return sqlText(strconv.FormatInt(n, 10))
}

// quoteFloat writes a finite float literal; non-finite values become 0 so
// that no query ever carries nan or inf.
func quoteFloat(f float64) sqlText {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "0"
	}
	return sqlText(strconv.FormatFloat(f, 'g', -1, 64))
}

// quoteMillis writes a time as Unix milliseconds, the unit every query
// compares times in.
func quoteMillis(t time.Time) sqlText {
	return quoteInt(t.UnixMilli())
}

// normalizeUTF8 replaces each byte of an invalid UTF-8 sequence by U+FFFD,
// exactly as encoding/json does when rows are written, so that a filter
// value matches the stored form of the same input.
func normalizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// quoteValue quotes a user-supplied value the way it is stored.
func quoteValue(s string) sqlText {
	return quoteString(normalizeUTF8(s))
}

// joinSQL joins pieces of SQL with sep.
func joinSQL(parts []sqlText, sep sqlText) sqlText {
	ss := make([]string, len(parts))
	for i, p := range parts {
		ss[i] = string(p)
	}
	return sqlText(strings.Join(ss, string(sep)))
}
