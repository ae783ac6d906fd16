package chstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Session summaries are kept in the sessions table by a refresher, one per
// database and process, that runs every refreshInterval once new events
// were written. A refresh summarizes again the sessions touched by the
// events written since the last one (see queries/refresh.sql) and moves
// the watermark; queries summarize the sessions touched after the
// watermark from events themselves, so answers never wait for a refresh.
var refreshInterval = time.Second

// serverRefreshLag holds a server's watermark this far behind the clock:
// other collectors may be writing, and their inserts in flight cannot be
// seen from here.
const serverRefreshLag = time.Minute

// inflight tracks the inserts of one engine that have started and not
// finished, so that a refresh never moves the watermark past an event
// that is being written: rows are stamped with their insert's start time,
// and the watermark stays below the oldest insert in flight.
type inflight struct {
	mu      sync.Mutex
	next    uint64
	starts  map[uint64]int64
	floor   int64 // the highest watermark handed out; starts never go below it
	written uint64
}

// begin registers an insert and returns its id and ingest time (Unix ms).
func (f *inflight) begin() (uint64, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.starts == nil {
		f.starts = map[uint64]int64{}
	}
	f.next++
	start := max(time.Now().UnixMilli(), f.floor)
	f.starts[f.next] = start
	return f.next, start
}

func (f *inflight) end(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.starts, id)
	f.written++
}

// horizon is the watermark a refresh may move to: every insert stamped
// before it has finished. idle reports that no insert was running, so
// that every finished insert (written of them) is stamped before it.
func (f *inflight) horizon(lag time.Duration) (watermark int64, written uint64, idle bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Past the current millisecond: inserts stamped now have finished.
	w := time.Now().Add(-lag).UnixMilli() + 1
	for _, start := range f.starts {
		w = min(w, start)
	}
	w = max(w, f.floor)
	f.floor = w
	return w, f.written, len(f.starts) == 0 && lag == 0
}

// refresher keeps the sessions table of one database up to date.
type refresher struct {
	store *Store // an internal handle on the database, never closed by users
	refs  int    // guarded by the registry lock

	mu          sync.Mutex // one refresh at a time
	lastWritten uint64
	// synced is the inflight written count as of the last refresh that
	// covered every finished insert, or -1 before the first one.
	synced atomic.Int64
	stop   chan struct{}
	done   chan struct{}
	// chunks counts the windows refreshed, for tests.
	chunks atomic.Int64
}

// startRefresher returns the database's refresher, starting it when it is
// the first Store of the database in this process. The caller holds the
// registry lock.
func startRefresher(sh *sharedEngine, db sqlText, dbName string, logger *zap.Logger) *refresher {
	if sh.refreshers == nil {
		sh.refreshers = map[string]*refresher{}
	}
	if r, ok := sh.refreshers[dbName]; ok {
		r.refs++
		return r
	}
	r := &refresher{
		store: &Store{shared: sh, db: db, dbName: dbName, logger: logger},
		refs:  1,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	r.synced.Store(-1)
	sh.refreshers[dbName] = r
	go r.loop(refreshInterval)
	return r
}

// stopRefresher drops one reference and stops the refresher with the last
// one. The caller holds the registry lock.
func stopRefresher(sh *sharedEngine, dbName string) {
	r, ok := sh.refreshers[dbName]
	if !ok {
		return
	}
	if r.refs--; r.refs > 0 {
		return
	}
	delete(sh.refreshers, dbName)
	close(r.stop)
	<-r.done
}

func (r *refresher) loop(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	// The first refresh catches up with what an earlier process wrote.
	force := true
	var next time.Time
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			if now.Before(next) {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		start := time.Now()
		_, err := r.refresh(ctx, force)
		// Under heavy writes a refresh takes a while: space them so that
		// they take at most a quarter of the time, queries summarizing the
		// sessions written in between.
		next = start.Add(4 * time.Since(start))
		force = force && err != nil
		cancel()
		if err != nil && err != errClosed {
			r.store.logger.Warn("Failed to refresh session summaries; queries summarize the sessions from events until a refresh succeeds",
				zap.String("database", r.store.dbName), zap.Error(err))
		}
	}
}

// refresh summarizes again the sessions touched since the watermark and
// moves it. Unless forced, it does nothing when no insert finished since
// the last refresh. It reports whether the watermark moved.
func (r *refresher) refresh(ctx context.Context, force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sh := r.store.shared
	lag := time.Duration(0)
	if sh.path == "" {
		lag = serverRefreshLag
	}
	to, written, idle := sh.inflight.horizon(lag)
	if !force && written == r.lastWritten {
		return false, nil
	}

	var from int64
	err := r.store.query(ctx, "SELECT toInt64(max(watermark_ms)) FROM "+r.store.db+".session_refresh",
		func(rows resultRows) error { return rows.Scan(&from) })
	if err != nil {
		return false, fmt.Errorf("failed to read the refresh watermark: %w", err)
	}
	if to <= from {
		r.lastWritten = written
		r.markSynced(written, idle)
		return false, nil
	}

	start := time.Now()
	chunks := 0
	for from < to {
		end, err := r.chunkEnd(ctx, from, to)
		if err != nil {
			return chunks > 0, err
		}
		d := &queryData{DB: r.store.db, FromMS: quoteInt(from), ToMS: quoteInt(end), Version: quoteInt(end * 2)}
		for _, name := range []string{"refresh_tombstones", "refresh_summaries", "refresh_watermark"} {
			sql, err := render(name, d)
			if err != nil {
				return chunks > 0, err
			}
			if err := r.store.execBackground(ctx, sql); err != nil {
				return chunks > 0, fmt.Errorf("failed to refresh session summaries (%s): %w", name, err)
			}
		}
		chunks++
		r.chunks.Add(1)
		from = end
	}
	r.lastWritten = written
	r.markSynced(written, idle)
	r.store.logger.Debug("Session summaries refreshed",
		zap.String("database", r.store.dbName), zap.Int64("watermark_ms", to), zap.Int("chunks", chunks),
		zap.Duration("duration", time.Since(start)))
	return true, nil
}

// refreshChunkEvents bounds the events one refresh statement covers: the
// statements hold the keys of the window's events and the summaries of
// their sessions in memory, so a backlog (a restart after a long outage,
// a bulk load) is refreshed in windows of at most this many events rather
// than in one that outgrows the engine's memory bound. 7 million events
// took 780 MiB in one window.
var refreshChunkEvents = int64(500_000)

// chunkEnd returns the end of the next window from from, at most to, that
// holds at most refreshChunkEvents events (or is one millisecond long).
func (r *refresher) chunkEnd(ctx context.Context, from, to int64) (int64, error) {
	end := to
	for end-from > 1 {
		sql, err := render("refresh_window_events", &queryData{DB: r.store.db, FromMS: quoteInt(from), ToMS: quoteInt(end)})
		if err != nil {
			return 0, err
		}
		var n int64
		err = r.store.query(ctx, sql, func(rows resultRows) error { return rows.Scan(&n) })
		if err != nil {
			return 0, fmt.Errorf("failed to count the events to refresh: %w", err)
		}
		if n <= refreshChunkEvents {
			break
		}
		end = from + (end-from)/2
	}
	return end, nil
}

// markSynced records that every insert counted in written is summarized.
func (r *refresher) markSynced(written uint64, ok bool) {
	if ok {
		r.synced.Store(int64(written))
	}
}

// refreshed reports whether the stored summaries cover every finished
// insert, so that queries need not look for sessions written since the
// last refresh. Only the embedded engine can know: every writer is in
// this process. An insert still running may or may not be seen, as with
// any query that runs before an insert returns.
func (s *Store) refreshed() bool {
	sh := s.shared
	if sh.path == "" {
		return false
	}
	registry.Lock()
	r := sh.refreshers[s.dbName]
	registry.Unlock()
	if r == nil {
		return false
	}
	synced := r.synced.Load()
	if synced < 0 {
		return false
	}
	sh.inflight.mu.Lock()
	defer sh.inflight.mu.Unlock()
	return uint64(synced) == sh.inflight.written
}

// Refresh brings the stored session summaries up to date with every event
// whose insert has finished. Queries are exact without it (they summarize
// what a refresh has not yet); a refresh makes them faster. It runs by
// itself every second after writes; tests and benchmarks call it to
// measure both cases.
func (s *Store) Refresh(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	registry.Lock()
	r := s.shared.refreshers[s.dbName]
	registry.Unlock()
	if r == nil {
		return errClosed
	}
	_, err := r.refresh(ctx, true)
	return err
}
