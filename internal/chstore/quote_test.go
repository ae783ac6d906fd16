package chstore

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hostileStrings = []string{
	"",
	"plain",
	"it's",
	`back\slash`,
	`ends with backslash\`,
	`\'`,
	"'; DROP DATABASE x; --",
	"nul\x00inside",
	"\x00",
	"newline\nreturn\rtab\t",
	"\x01\x1f\x7f",
	"unicode ✓ ção 漢字 🦀",
	"invalid utf-8 \xff\xfe and a cut rune \xe2\x82",
	"`backquote` and \"double\"",
	"{{database}} {{.Product}}",
	"?  $1 :name {x:String}",
	strings.Repeat("'\\", 500),
}

func TestQuoteStringRoundTrip(t *testing.T) {
	s := newTestStore(t)
	for _, in := range hostileStrings {
		var got string
		err := s.query(t.Context(), "SELECT hex("+quoteString(in)+")", func(r resultRows) error { return r.Scan(&got) })
		require.NoError(t, err, "%q", in)
		assert.Equal(t, strings.ToUpper(hex.EncodeToString([]byte(in))), got, "%q", in)
	}
}

func TestQuoteIdentRoundTrip(t *testing.T) {
	s := newTestStore(t)
	for _, in := range hostileStrings {
		if in == "" {
			continue // an identifier cannot be empty
		}
		// The column is named by the quoted identifier; the result's
		// name line shows the name ClickHouse read.
		var names []string
		err := s.with(func(eng engine) error {
			rows, err := eng.query(t.Context(), "SELECT 1 AS "+quoteIdent(in))
			if err != nil {
				return err
			}
			names = rows.(*jsonRows).names
			return nil
		})
		require.NoError(t, err, "%q", in)
		require.Len(t, names, 1)
		assert.Equal(t, normalizeUTF8(in), names[0], "%q", in)
	}
}

func TestQuoteText(t *testing.T) {
	cases := []struct {
		in, str, ident string
	}{
		{"a", `'a'`, "`a`"},
		{"it's", `'it\'s'`, "`it's`"},
		{"a`b", "'a`b'", "`a\\`b`"},
		{`a\b`, `'a\\b'`, "`a\\\\b`"},
		{"nul\x00", `'nul\x00'`, "`nul\\x00`"},
		{"\xff", `'\xff'`, "`\\xff`"},
		{"ç", `'ç'`, "`ç`"},
	}
	for _, c := range cases {
		assert.Equal(t, sqlText(c.str), quoteString(c.in), "%q", c.in)
		assert.Equal(t, sqlText(c.ident), quoteIdent(c.in), "%q", c.in)
	}
	for _, in := range hostileStrings {
		q := string(quoteString(in))
		assert.NotContains(t, q, "\x00", "%q", in)
		assert.NotContains(t, q, "\n", "%q", in)
	}
	assert.Equal(t, sqlText("0"), quoteFloat(posInf()))
	assert.Equal(t, sqlText("1.5"), quoteFloat(1.5))
	assert.Equal(t, sqlText("-42"), quoteInt(-42))
}

func posInf() float64 {
	var zero float64
	return 1 / zero
}

func TestNormalizeUTF8(t *testing.T) {
	assert.Equal(t, "ok ✓", normalizeUTF8("ok ✓"))
	// One U+FFFD per invalid byte, as encoding/json writes it.
	assert.Equal(t, "a\uFFFD\uFFFDb", normalizeUTF8("a\xff\xfeb"))
	assert.Equal(t, "\uFFFD\uFFFD", normalizeUTF8("\xe2\x82"))
}
