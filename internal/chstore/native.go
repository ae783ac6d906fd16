package chstore

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The embedded engine reads inserts fastest in ClickHouse's Native format
// (columns one after the other, no text to parse): about three times the
// rows per second of JSONEachRow on the events table. The statement text
// cannot carry binary data, so the block goes through a file
// (INSERT ... FROM INFILE).

// nativeColumn is one column of a Native block being built.
type nativeColumn struct {
	name, typ string
	data      []byte
	nulls     []byte // Nullable columns: 1 where the value is NULL
}

// nativeBlock accumulates rows of the events table in Native format. The
// LowCardinality columns are sent as String; the engine converts them.
type nativeBlock struct {
	rows    int
	cols    []nativeColumn
	scratch []byte
}

// The columns of insertColumns, in order, with the type each is sent as.
var nativeTypes = []string{
	"String", "String", "String", "String", "DateTime64(3, 'UTC')", "String", "String", "String",
	"Bool", "String", "String", "Int64", "Int64", "Int64", "Int64",
	"Int64", "Float64", "Nullable(Float64)", "String", "String", "Float64", "Float64", "String",
	"Nullable(Float64)", "String", "String", "String", "String", "DateTime64(3, 'UTC')",
}

// Column indexes in nativeTypes and insertColumns order.
const (
	colProductID = iota
	colSessionID
	colEventID
	colEventType
	colTimestamp
	colUserID
	colMetadata
	colProperties
	colTruncated
	colModel
	colProvider
	colInputTokens
	colOutputTokens
	colCachedInputTokens
	colCacheCreationInputTokens
	colReasoningTokens
	colDurationMS
	colCostUSD
	colCostStatus
	colToolName
	colSavedCostUSD
	colAmount
	colCurrency
	colAmountUSD
	colMetadataTopic
	colClassifiedTopic
	colEndReason
	colOutcome
	colIngestedAt
	numColumns
)

var (
	columnNames     = splitColumns(insertColumns)
	nativeBlockPool sync.Pool
)

// getNativeBlock returns an empty block, reusing the buffers of an earlier
// one when it can.
func getNativeBlock() *nativeBlock {
	if b, ok := nativeBlockPool.Get().(*nativeBlock); ok {
		return b
	}
	b := &nativeBlock{cols: make([]nativeColumn, numColumns), scratch: make([]byte, 0, 1024)}
	for i := range b.cols {
		b.cols[i] = nativeColumn{name: columnNames[i], typ: nativeTypes[i]}
	}
	return b
}

// putNativeBlock empties b for reuse; very large buffers are let go.
func putNativeBlock(b *nativeBlock) {
	b.rows = 0
	for i := range b.cols {
		c := &b.cols[i]
		if cap(c.data) > 64<<20 {
			c.data = nil
		}
		c.data, c.nulls = c.data[:0], c.nulls[:0]
	}
	nativeBlockPool.Put(b)
}

func splitColumns(list string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(list); i++ {
		if i == len(list) || list[i] == ',' {
			name := list[start:i]
			for len(name) > 0 && name[0] == ' ' {
				name = name[1:]
			}
			out = append(out, name)
			start = i + 1
		}
	}
	return out
}

func (c *nativeColumn) str(s string) {
	c.data = binary.AppendUvarint(c.data, uint64(len(s)))
	c.data = append(c.data, s...)
}

// strJSON writes a string column holding the JSON text of m.
func (c *nativeColumn) strJSON(m map[string]any, scratch *[]byte) {
	*scratch = appendJSONObject((*scratch)[:0], m)
	c.data = binary.AppendUvarint(c.data, uint64(len(*scratch)))
	c.data = append(c.data, *scratch...)
}

// writeFile writes the block to path, replacing what it held, and
// returns its size. Rewriting the same few files keeps their inodes:
// creating a file per insert costs more on a busy ext4 volume than
// writing it.
func (b *nativeBlock) writeFile(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		}
	}
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	size, err := b.writeTo(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return size, err
}

// blockFiles hands out the names of the files Native blocks are written
// to: a file is used by one insert at a time and then reused.
type blockFiles struct {
	dir  string
	mu   sync.Mutex
	free []string
	next int
}

func (f *blockFiles) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.free); n > 0 {
		name := f.free[n-1]
		f.free = f.free[:n-1]
		return name
	}
	f.next++
	return filepath.Join(f.dir, fmt.Sprintf("insert-%d.native", f.next))
}

func (f *blockFiles) put(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free = append(f.free, name)
}

func (c *nativeColumn) i64(v int64) {
	c.data = binary.LittleEndian.AppendUint64(c.data, uint64(v))
}

func (c *nativeColumn) f64(v float64) {
	c.data = binary.LittleEndian.AppendUint64(c.data, math.Float64bits(v))
}

func (c *nativeColumn) nullableF64(v *float64) {
	if v == nil {
		c.nulls = append(c.nulls, 1)
		c.f64(0)
		return
	}
	c.nulls = append(c.nulls, 0)
	c.f64(*v)
}

func (c *nativeColumn) boolean(v bool) {
	if v {
		c.data = append(c.data, 1)
	} else {
		c.data = append(c.data, 0)
	}
}

// add appends one row.
func (b *nativeBlock) add(r *row) {
	b.rows++
	c := b.cols
	scratch := &b.scratch
	c[colProductID].str(r.ProductID)
	c[colSessionID].str(r.SessionID)
	c[colEventID].str(r.EventID)
	c[colEventType].str(r.EventType)
	c[colTimestamp].i64(r.TimestampMS)
	c[colUserID].str(r.UserID)
	c[colMetadata].strJSON(r.metadata, scratch)
	c[colProperties].strJSON(r.properties, scratch)
	c[colTruncated].boolean(r.Truncated)
	c[colModel].str(r.Model)
	c[colProvider].str(r.Provider)
	c[colInputTokens].i64(r.InputTokens)
	c[colOutputTokens].i64(r.OutputTokens)
	c[colCachedInputTokens].i64(r.CachedInputTokens)
	c[colCacheCreationInputTokens].i64(r.CacheCreationInputTokens)
	c[colReasoningTokens].i64(r.ReasoningTokens)
	c[colDurationMS].f64(r.DurationMS)
	c[colCostUSD].nullableF64(r.CostUSD)
	c[colCostStatus].str(r.CostStatus)
	c[colToolName].str(r.ToolName)
	c[colSavedCostUSD].f64(r.SavedCostUSD)
	c[colAmount].f64(r.Amount)
	c[colCurrency].str(r.Currency)
	c[colAmountUSD].nullableF64(r.AmountUSD)
	c[colMetadataTopic].str(r.MetadataTopic)
	c[colClassifiedTopic].str(r.ClassifiedTopic)
	c[colEndReason].str(r.EndReason)
	c[colOutcome].str(r.Outcome)
	c[colIngestedAt].i64(r.IngestedMS)
}

// writeTo writes the block in Native format: the number of columns and
// rows, then each column's name, type and values.
func (b *nativeBlock) writeTo(w *bufio.Writer) (int, error) {
	var hdr []byte
	hdr = binary.AppendUvarint(hdr, uint64(len(b.cols)))
	hdr = binary.AppendUvarint(hdr, uint64(b.rows))
	size := 0
	write := func(p []byte) {
		n, _ := w.Write(p)
		size += n
	}
	write(hdr)
	for i := range b.cols {
		c := &b.cols[i]
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(c.name)))
		hdr = append(hdr, c.name...)
		hdr = binary.AppendUvarint(hdr, uint64(len(c.typ)))
		hdr = append(hdr, c.typ...)
		write(hdr)
		write(c.nulls)
		write(c.data)
	}
	// bufio.Writer keeps its first error and returns it from Flush.
	return size, nil
}

// appendJSONObject writes m as a JSON object with sorted keys, as
// encoding/json does; values JSON cannot hold (nan, inf) become null and
// invalid UTF-8 becomes U+FFFD.
func appendJSONObject(dst []byte, m map[string]any) []byte {
	if len(m) == 0 {
		return append(dst, "{}"...)
	}
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONValue(dst, m[k])
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		return appendJSONFloat(dst, x, 64)
	case float32:
		return appendJSONFloat(dst, float64(x), 32)
	case map[string]any:
		return appendJSONObject(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, e)
		}
		return append(dst, ']')
	}
	b, err := json.Marshal(sanitize(v))
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// appendJSONFloat formats like encoding/json: shortest representation,
// exponent form only for very small or large magnitudes.
func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		n := len(dst) - start
		if n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// appendJSONString writes s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are escaped, as encoding/json does.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
