// Command engine is the part of the benchmarks that runs the embedded
// engine (chDB) in its own process: the raw-insert baseline, the bulk load
// of the query datasets, the query baseline (the store's SQL run straight
// on the engine) and the count of stored events. It prints one JSON object
// on stdout. The load generator (bench/loadgen) runs it; see
// bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chdb-io/chdb-go/chdb"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/chstore"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	var out any
	ctx := context.Background()
	switch os.Args[1] {
	case "rawinsert":
		out, err = rawInsert(ctx, os.Args[2:])
	case "load":
		out, err = load(ctx, os.Args[2:])
	case "rawqueries":
		out, err = rawQueries(ctx, os.Args[2:])
	case "count":
		out, err = count(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: engine rawinsert|load|rawqueries|count -dir DIR [flags]
  rawinsert   time INSERTs of prepared statements (the storage limit)
  load        bulk-load generated events through the processor and the store
  rawqueries  time the query API's SQL on the engine alone
  count       events stored and bytes on disk`)
	os.Exit(2)
}

// openStore opens the store on dir (the collector's storage layout:
// dir/clickhouse, database agentpulse) and returns the engine session it
// uses.
func openStore(ctx context.Context, dir string) (*chstore.Store, *chdb.Session, error) {
	cfg := chstore.NewDefaultConfig()
	cfg.Path = filepath.Join(dir, "clickhouse")
	s, err := chstore.Open(ctx, cfg, zap.NewNop())
	if err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, nil, err
	}
	// The engine is one per process: this is the session the store opened.
	sess, err := chdb.NewSession(filepath.Clean(abs))
	if err != nil {
		return nil, nil, err
	}
	return s, sess, nil
}

// run executes one statement on the engine session.
func run(sess *chdb.Session, sql string) ([]byte, error) {
	res, err := sess.Query(sql, "JSONCompactEachRowWithNamesAndTypes")
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, err
	}
	return append([]byte(nil), res.Buf()...), nil
}

type countResult struct {
	Rows         int64 `json:"rows"`
	Events       int64 `json:"events"`
	Sessions     int64 `json:"sessions"`
	BytesOnDisk  int64 `json:"bytes_on_disk"`
	EventsParts  int64 `json:"events_parts"`
	DirBytes     int64 `json:"dir_bytes"`
	TableBytes   map[string]int64
	Uncompressed int64 `json:"uncompressed_bytes"`
}

func count(ctx context.Context, args []string) (any, error) {
	fs := flag.NewFlagSet("count", flag.ExitOnError)
	dir := fs.String("dir", "", "data directory of the collector")
	product := fs.String("product", "bench", "product")
	_ = fs.Parse(args)
	s, sess, err := openStore(ctx, *dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()

	var r countResult
	p := quote(*product)
	if err := scanInts(sess, "SELECT count() FROM agentpulse.events WHERE product_id = "+p, &r.Rows); err != nil {
		return nil, err
	}
	if err := scanInts(sess, "SELECT count(), uniqExact(session_id) FROM agentpulse.events FINAL WHERE product_id = "+p,
		&r.Events, &r.Sessions); err != nil {
		return nil, err
	}
	if err := scanInts(sess, "SELECT sum(bytes_on_disk), sum(data_uncompressed_bytes), count() FROM system.parts "+
		"WHERE database = 'agentpulse' AND table = 'events' AND active", &r.BytesOnDisk, &r.Uncompressed, &r.EventsParts); err != nil {
		return nil, err
	}
	out, err := run(sess, "SELECT table, toInt64(sum(bytes_on_disk)) FROM system.parts WHERE database = 'agentpulse' AND active GROUP BY table")
	if err != nil {
		return nil, err
	}
	r.TableBytes = map[string]int64{}
	for _, row := range jsonRows(out) {
		var name string
		var n int64
		if len(row) == 2 && json.Unmarshal(row[0], &name) == nil && json.Unmarshal(row[1], &n) == nil {
			r.TableBytes[name] = n
		}
	}
	r.DirBytes = dirBytes(filepath.Join(*dir, "clickhouse"))
	return r, nil
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// scanInts reads the first row of a query into integers.
func scanInts(sess *chdb.Session, sql string, dest ...*int64) error {
	out, err := run(sess, sql)
	if err != nil {
		return err
	}
	rows := jsonRows(out)
	if len(rows) == 0 || len(rows[0]) < len(dest) {
		return fmt.Errorf("no row from %s", sql)
	}
	for i, d := range dest {
		var v json.Number
		if err := json.Unmarshal(rows[0][i], &v); err != nil {
			var s string
			if err2 := json.Unmarshal(rows[0][i], &s); err2 != nil {
				return err
			}
			v = json.Number(s)
		}
		n, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			if ferr != nil {
				return err
			}
			n = int64(f)
		}
		*d = n
	}
	return nil
}

// jsonRows splits JSONCompactEachRowWithNamesAndTypes output into the data
// rows (the first two lines are the names and types).
func jsonRows(out []byte) [][]json.RawMessage {
	var rows [][]json.RawMessage
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if i < 2 || line == "" {
			continue
		}
		var row []json.RawMessage
		if json.Unmarshal([]byte(line), &row) == nil {
			rows = append(rows, row)
		}
	}
	return rows
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

var errUsage = errors.New("-dir is required")

func since(t time.Time) float64 { return time.Since(t).Seconds() }
