package chstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Store writes events to ClickHouse and answers the analytics queries. A
// Store is safe for concurrent use. Stores opened with the same embedded
// path (or the same server settings) share one engine; each Store must be
// closed once.
type Store struct {
	shared *sharedEngine
	db     sqlText // quoted database name
	dbName string
	logger *zap.Logger
	closed atomic.Bool
}

// sharedEngine is an engine and the number of open Stores using it.
type sharedEngine struct {
	key  string
	eng  engine
	refs int // guarded by the registry lock
	// path is the embedded engine's data directory; empty for a server.
	path string
	// memoryLimitMiB is the embedded engine's memory bound.
	memoryLimitMiB int
	// files are the embedded engine's Native block files.
	files *blockFiles
	// inflight are the inserts running on the engine.
	inflight inflight
	// refreshers keep each database's session summaries up to date;
	// guarded by the registry lock.
	refreshers map[string]*refresher

	// mu is held for reading by every statement and for writing while the
	// engine closes, so no statement runs on a closed engine.
	mu       sync.RWMutex
	isClosed bool
}

// registry holds the engines of this process. The embedded engine (chDB)
// is one per process: opening a second data directory would silently
// return the first one's data, so only one embedded path may be open at a
// time.
var registry = struct {
	sync.Mutex
	embedded *sharedEngine
	servers  map[string]*sharedEngine
}{servers: map[string]*sharedEngine{}}

// Open connects to the storage of cfg, creates the database and applies
// pending migrations. Components of one process that open the same
// embedded path (or server) share one engine, which is closed when the
// last of their Stores is closed.
func Open(ctx context.Context, cfg Config, logger *zap.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid storage configuration: %w", err)
	}
	if logger == nil {
		logger = zap.NewNop()
	}

	registry.Lock()
	defer registry.Unlock()

	shared, err := acquire(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	// Every Open checks the migrations (a few milliseconds), so a database
	// dropped while the process runs is recreated by the next Open.
	start := time.Now()
	applied, err := migrate(ctx, shared.eng, cfg.Database)
	if err != nil {
		_ = release(shared)
		return nil, err
	}
	logger.Info("storage ready",
		zap.String("mode", cfg.Mode),
		zap.String("database", cfg.Database),
		zap.Int("migrations_applied", applied),
		zap.Duration("duration", time.Since(start)))
	db := quoteIdent(cfg.Database)
	startRefresher(shared, db, cfg.Database, logger)
	return &Store{shared: shared, db: db, dbName: cfg.Database, logger: logger}, nil
}

// acquire returns the shared engine for cfg, opening it when needed. The
// caller holds the registry lock.
func acquire(ctx context.Context, cfg Config, logger *zap.Logger) (*sharedEngine, error) {
	if cfg.Mode == ModeServer {
		key := serverKey(cfg)
		if sh, ok := registry.servers[key]; ok {
			sh.refs++
			return sh, nil
		}
		eng, err := openServer(ctx, cfg)
		if err != nil {
			return nil, err
		}
		sh := &sharedEngine{key: key, eng: eng, refs: 1}
		registry.servers[key] = sh
		return sh, nil
	}

	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve path %q: %w", cfg.Path, err)
	}
	path = filepath.Clean(path)
	if sh := registry.embedded; sh != nil {
		if sh.key != path {
			return nil, fmt.Errorf(
				"the embedded engine of this process is already open at %q, so %q cannot be opened: "+
					"it holds one data directory per process; give every component the same path, "+
					"or use a ClickHouse server", sh.key, path)
		}
		if sh.memoryLimitMiB != cfg.MemoryLimitMiB {
			return nil, fmt.Errorf(
				"memory_limit_mib: %d differs from the %d MiB of the embedded engine already open at %q; "+
					"give every component that uses it the same value", cfg.MemoryLimitMiB, sh.memoryLimitMiB, path)
		}
		sh.refs++
		return sh, nil
	}
	eng, err := openEmbedded(path, cfg.MemoryLimitMiB)
	if err != nil {
		return nil, err
	}
	// Blocks left by inserts that a crash interrupted; their events are
	// still in the exporter's queue.
	_ = os.RemoveAll(filepath.Join(path, insertDirName))
	logger.Info("embedded engine opened", zap.String("path", path), zap.Int("memory_limit_mib", cfg.MemoryLimitMiB))
	sh := &sharedEngine{key: path, eng: eng, refs: 1, path: path, memoryLimitMiB: cfg.MemoryLimitMiB,
		files: &blockFiles{dir: filepath.Join(path, insertDirName)}}
	registry.embedded = sh
	return sh, nil
}

func serverKey(cfg Config) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%t\x00%s",
		cfg.Endpoint, cfg.Username, string(cfg.Password), cfg.Secure, cfg.DialTimeout)
}

// release drops one reference and closes the engine with the last one. The
// caller holds the registry lock.
func release(sh *sharedEngine) error {
	sh.refs--
	if sh.refs > 0 {
		return nil
	}
	if registry.embedded == sh {
		registry.embedded = nil
	} else {
		delete(registry.servers, sh.key)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.isClosed = true
	if sh.files != nil {
		_ = os.RemoveAll(sh.files.dir)
	}
	return sh.eng.close()
}

// Close releases the Store; the engine closes with the last Store using it
// and waits for statements in flight. Calling Close again does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	registry.Lock()
	defer registry.Unlock()
	stopRefresher(s.shared, s.dbName)
	return release(s.shared)
}

// Database is the name of the database the Store uses.
func (s *Store) Database() string { return s.dbName }

var errClosed = errors.New("store is closed")

// exec runs one statement.
func (s *Store) exec(ctx context.Context, sql sqlText) error {
	logStatement(ctx, sql)
	return s.with(func(eng engine) error { return eng.exec(ctx, sql) })
}

// execBackground runs one statement of background work.
func (s *Store) execBackground(ctx context.Context, sql sqlText) error {
	logStatement(ctx, sql)
	return s.with(func(eng engine) error { return eng.execBackground(ctx, sql) })
}

// query runs one query and hands each row to scan.
func (s *Store) query(ctx context.Context, sql sqlText, scan func(resultRows) error) error {
	logStatement(ctx, sql)
	return s.with(func(eng engine) error {
		rows, err := eng.query(ctx, sql)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return permanent(err)
			}
		}
		return classify(rows.Err())
	})
}

func (s *Store) with(f func(engine) error) error {
	if s.closed.Load() {
		return errClosed
	}
	s.shared.mu.RLock()
	defer s.shared.mu.RUnlock()
	if s.shared.isClosed {
		return errClosed
	}
	return f(s.shared.eng)
}
