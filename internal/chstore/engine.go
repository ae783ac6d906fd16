package chstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/chdb-io/chdb-go/chdb"
	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
)

// embeddedFormat is how the embedded engine returns rows: one JSON array of
// names, one of types, then one array per row.
const embeddedFormat = "JSONCompactEachRowWithNamesAndTypes"

// embeddedReaders is the number of extra connections that run queries.
// A chDB connection runs one statement at a time, so with a single one a
// dashboard query waited for the insert in progress (hundreds of
// milliseconds under load); connections to the same directory share the
// data and run side by side.
const embeddedReaders = 2

// embeddedEngine is the in-process engine (chDB). Statements that write
// (DDL, inserts, refreshes) run on the session, one at a time; queries run
// on a small pool of reading connections. Statements cannot be
// interrupted, so a context is only checked before a statement starts.
type embeddedEngine struct {
	session *chdb.Session
	readers chan chdbpurego.ChdbConn
	// background runs the refresh of session summaries, which took a
	// third of the session's time under ingest and held inserts back.
	background   chdbpurego.ChdbConn
	backgroundMu sync.Mutex
}

// engineSettingsFile is written into the data directory at every start:
// the embedded engine's server settings, which only a configuration file
// can set.
const engineSettingsFile = "agentpulse-engine.xml"

// writeEngineSettings bounds the engine's memory to limitMiB and sizes its
// caches from it; without them the engine allows itself 90 % of the
// machine's memory and 5 GiB of mark and index caches.
func writeEngineSettings(path string, limitMiB int) (string, error) {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return "", fmt.Errorf("failed to create the data directory %q: %w", path, err)
	}
	limit := int64(limitMiB) << 20
	xml := fmt.Sprintf(`<clickhouse>
    <max_server_memory_usage>%d</max_server_memory_usage>
    <mark_cache_size>%d</mark_cache_size>
    <index_mark_cache_size>%d</index_mark_cache_size>
    <primary_index_cache_size>%d</primary_index_cache_size>
</clickhouse>
`, limit, limit/8, limit/16, limit/16)
	file := filepath.Join(path, engineSettingsFile)
	if err := os.WriteFile(file, []byte(xml), 0o640); err != nil {
		return "", fmt.Errorf("failed to write the engine settings %q: %w", file, err)
	}
	return file, nil
}

func openEmbedded(path string, memoryLimitMiB int) (*embeddedEngine, error) {
	settings, err := writeEngineSettings(path, memoryLimitMiB)
	if err != nil {
		return nil, err
	}
	// Every connection names the same settings: the first one opens the
	// engine with them.
	conn := path + "?config-file=" + settings
	s, err := chdb.NewSession(conn)
	if err != nil {
		return nil, fmt.Errorf("failed to open the embedded engine at %q: %w", path, err)
	}
	e := &embeddedEngine{session: s, readers: make(chan chdbpurego.ChdbConn, embeddedReaders)}
	if e.background, err = chdbpurego.NewConnectionFromConnString(conn); err != nil {
		_ = e.close()
		return nil, fmt.Errorf("failed to open a background connection to the embedded engine at %q: %w", path, err)
	}
	for range embeddedReaders {
		c, err := chdbpurego.NewConnectionFromConnString(conn)
		if err != nil {
			_ = e.close()
			return nil, fmt.Errorf("failed to open a reading connection to the embedded engine at %q: %w", path, err)
		}
		e.readers <- c
	}
	return e, nil
}

func (e *embeddedEngine) exec(ctx context.Context, sql sqlText) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := e.session.Query(string(sql), embeddedFormat)
	if err != nil {
		return classify(err)
	}
	if res != nil {
		res.Free()
	}
	return nil
}

func (e *embeddedEngine) execBackground(ctx context.Context, sql sqlText) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.backgroundMu.Lock()
	defer e.backgroundMu.Unlock()
	res, err := e.background.Query(string(sql), embeddedFormat)
	if err != nil {
		return classify(err)
	}
	if res != nil {
		res.Free()
	}
	return nil
}

func (e *embeddedEngine) query(ctx context.Context, sql sqlText) (resultRows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var conn chdbpurego.ChdbConn
	select {
	case conn = <-e.readers:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res, err := conn.Query(string(sql), embeddedFormat)
	e.readers <- conn
	if err != nil {
		return nil, classify(err)
	}
	// The buffer belongs to the engine until Free; keep a copy.
	out := append([]byte(nil), res.Buf()...)
	res.Free()
	rows, err := newJSONRows(out)
	if err != nil {
		return nil, permanent(err)
	}
	return rows, nil
}

func (e *embeddedEngine) close() error {
	// Every statement has finished: the store closes the engine under its
	// write lock.
	for len(e.readers) > 0 {
		(<-e.readers).Close()
	}
	if e.background != nil {
		e.background.Close()
	}
	e.session.Close()
	return nil
}

var _ resultRows = (driver.Rows)(nil)

// serverEngine talks to a ClickHouse server with the native protocol.
// No server can run in this project's test environment, so this path is
// covered by the shared SQL (tested on the embedded engine with the same
// type rules) and by tests of the options and error handling only.
type serverEngine struct {
	conn driver.Conn
}

// serverOptions builds the driver options of a server configuration. The
// connection has no default database: every statement names its tables
// with the database, which may not exist before the first migration.
func serverOptions(cfg Config) *clickhouse.Options {
	opts := &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Endpoint},
		Auth: clickhouse.Auth{
			Username: cfg.Username,
			Password: string(cfg.Password),
		},
		DialTimeout: cfg.DialTimeout,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "agentpulse", Version: "0"}},
		},
	}
	if cfg.Secure {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return opts
}

func openServer(ctx context.Context, cfg Config) (*serverEngine, error) {
	conn, err := clickhouse.Open(serverOptions(cfg))
	if err != nil {
		return nil, fmt.Errorf("failed to configure the connection to %s: %w", cfg.Endpoint, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("failed to reach ClickHouse at %s: %w", cfg.Endpoint, classify(err))
	}
	return &serverEngine{conn: conn}, nil
}

func (e *serverEngine) exec(ctx context.Context, sql sqlText) error {
	return classify(e.conn.Exec(ctx, string(sql)))
}

func (e *serverEngine) execBackground(ctx context.Context, sql sqlText) error {
	return e.exec(ctx, sql)
}

func (e *serverEngine) query(ctx context.Context, sql sqlText) (resultRows, error) {
	rows, err := e.conn.Query(ctx, string(sql))
	if err != nil {
		return nil, classify(err)
	}
	return rows, nil
}

func (e *serverEngine) close() error {
	return e.conn.Close()
}
