package chstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// engine runs SQL text on the embedded engine or on a server.
type engine interface {
	exec(ctx context.Context, sql sqlText) error
	// execBackground runs a long write of background work (the refresh of
	// session summaries) without holding up inserts.
	execBackground(ctx context.Context, sql sqlText) error
	query(ctx context.Context, sql sqlText) (resultRows, error)
	close() error
}

// resultRows is the part of a driver's rows that the store uses; the
// server driver's rows satisfy it as they are.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// jsonRows reads the embedded engine's JSONCompactEachRowWithNamesAndTypes
// output. Scan checks each column's ClickHouse type against the Go
// destination with the rules of the server driver, so a query that passes
// the embedded tests scans the same way on a server.
type jsonRows struct {
	names []string
	types []string
	dec   *json.Decoder
	row   []json.RawMessage
	err   error
}

func newJSONRows(out []byte) (*jsonRows, error) {
	r := &jsonRows{dec: json.NewDecoder(bytes.NewReader(out))}
	r.dec.UseNumber()
	if len(bytes.TrimSpace(out)) == 0 {
		return r, nil
	}
	if err := r.dec.Decode(&r.names); err != nil {
		return nil, fmt.Errorf("failed to read column names: %w", err)
	}
	if err := r.dec.Decode(&r.types); err != nil {
		return nil, fmt.Errorf("failed to read column types: %w", err)
	}
	if len(r.names) != len(r.types) {
		return nil, fmt.Errorf("result has %d names but %d types", len(r.names), len(r.types))
	}
	return r, nil
}

func (r *jsonRows) Next() bool {
	if r.err != nil || r.types == nil {
		return false
	}
	r.row = r.row[:0]
	if err := r.dec.Decode(&r.row); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = fmt.Errorf("failed to read result row: %w", err)
		}
		return false
	}
	if len(r.row) != len(r.types) {
		r.err = fmt.Errorf("result row has %d values, want %d", len(r.row), len(r.types))
		return false
	}
	return true
}

func (r *jsonRows) Err() error   { return r.err }
func (r *jsonRows) Close() error { return nil }

func (r *jsonRows) Scan(dest ...any) error {
	if len(dest) != len(r.row) {
		return fmt.Errorf("scan into %d destinations, but the row has %d columns", len(dest), len(r.row))
	}
	for i, d := range dest {
		if err := scanValue(r.types[i], r.row[i], d); err != nil {
			return fmt.Errorf("column %s (%s): %w", r.names[i], r.types[i], err)
		}
	}
	return nil
}

// scanValue decodes one JSON value of ClickHouse type typ into dest. Only
// the pairs the server driver accepts are allowed.
func scanValue(typ string, raw json.RawMessage, dest any) error {
	switch d := dest.(type) {
	case *string:
		if typ != "String" && typ != "LowCardinality(String)" {
			return errWrongType(typ, dest)
		}
		return json.Unmarshal(raw, d)
	case *int64:
		if typ != "Int64" {
			return errWrongType(typ, dest)
		}
		return decodeInt(raw, d)
	case *float64:
		if typ != "Float64" {
			return errWrongType(typ, dest)
		}
		return decodeFloat(raw, d)
	case *bool:
		if typ != "Bool" {
			return errWrongType(typ, dest)
		}
		return json.Unmarshal(raw, d)
	case *[]string:
		if typ != "Array(String)" {
			return errWrongType(typ, dest)
		}
		return json.Unmarshal(raw, d)
	case *[]float64:
		if typ != "Array(Float64)" {
			return errWrongType(typ, dest)
		}
		var vals []json.RawMessage
		if err := json.Unmarshal(raw, &vals); err != nil {
			return err
		}
		*d = make([]float64, len(vals))
		for i, v := range vals {
			if err := decodeFloat(v, &(*d)[i]); err != nil {
				return err
			}
		}
		return nil
	case **int64:
		if typ != "Nullable(Int64)" {
			return errWrongType(typ, dest)
		}
		if isNull(raw) {
			*d = nil
			return nil
		}
		*d = new(int64)
		return decodeInt(raw, *d)
	case **float64:
		if typ != "Nullable(Float64)" {
			return errWrongType(typ, dest)
		}
		if isNull(raw) {
			*d = nil
			return nil
		}
		*d = new(float64)
		return decodeFloat(raw, *d)
	}
	return fmt.Errorf("unsupported destination %T", dest)
}

func errWrongType(typ string, dest any) error {
	return fmt.Errorf("cannot scan %s into %T", typ, dest)
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// decodeInt accepts a JSON number or a quoted one (64-bit integers are
// quoted under output_format_json_quote_64bit_integers).
func decodeInt(raw json.RawMessage, d *int64) error {
	s := string(bytes.Trim(bytes.TrimSpace(raw), `"`))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", raw)
	}
	*d = n
	return nil
}

// decodeFloat accepts a number, a quoted number, and null, which the engine
// writes for nan and inf; those become 0 so answers stay valid JSON.
func decodeFloat(raw json.RawMessage, d *float64) error {
	if isNull(raw) {
		*d = 0
		return nil
	}
	s := string(bytes.Trim(bytes.TrimSpace(raw), `"`))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		switch s {
		case "nan", "-nan", "inf", "-inf", "+inf":
			*d = 0
			return nil
		}
		return fmt.Errorf("not a number: %s", raw)
	}
	*d = f
	return nil
}
