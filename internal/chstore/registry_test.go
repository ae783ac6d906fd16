package chstore

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/event"
)

func TestStoresShareTheEmbeddedEngine(t *testing.T) {
	writer := newTestStore(t)
	// Another component opens the same path and database, as the query
	// API does next to the exporter; the relative spelling of the path
	// does not matter.
	cfg := testConfig(writer.dbName)
	cfg.Path = testDir + "/./"
	reader, err := Open(t.Context(), cfg, zap.NewNop())
	require.NoError(t, err)
	assert.Same(t, writer.shared, reader.shared)

	require.NoError(t, writer.Insert(t.Context(), []event.Event{{
		EventID: "e", SessionID: "s", EventType: event.TypeMessageUser, Timestamp: day0, UserID: "u", ProductID: "p",
	}}))
	_, _, found, err := reader.Session(t.Context(), "p", "s", analytics.Options{})
	require.NoError(t, err)
	assert.True(t, found, "the reader sees what the writer wrote")

	// Closing one Store leaves the other working; closing twice is harmless.
	require.NoError(t, reader.Close())
	require.NoError(t, reader.Close())
	_, _, found, err = writer.Session(t.Context(), "p", "s", analytics.Options{})
	require.NoError(t, err)
	assert.True(t, found)
	_, _, _, err = reader.Session(t.Context(), "p", "s", analytics.Options{})
	require.ErrorIs(t, err, errClosed)
	require.ErrorIs(t, reader.Insert(t.Context(), nil), errClosed)
	assert.False(t, IsPermanent(errClosed), "a closed store is not the data's fault")
}

func TestSecondEmbeddedPathIsRefused(t *testing.T) {
	cfg := testConfig("other")
	cfg.Path = t.TempDir()
	_, err := Open(t.Context(), cfg, zap.NewNop())
	require.Error(t, err)
	assert.ErrorContains(t, err, "already open at")
	assert.ErrorContains(t, err, "one data directory per process")
	assert.ErrorContains(t, err, cfg.Path)
}

func TestConcurrentInsertsAndQueries(t *testing.T) {
	s := newTestStore(t)
	const writers, perWriter = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				errs <- s.Insert(t.Context(), newBuilder("p", id, "u", day0).add(0, event.TypeMessageUser, nil).events)
				_, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	funnel, err := s.Funnel(t.Context(), analytics.Filter{ProductID: "p"}, analytics.Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(writers*perWriter), funnel[0].Sessions)
}

func TestEmbeddedEngineMemoryIsBounded(t *testing.T) {
	s := newTestStore(t)
	got := map[string]uint64{}
	err := s.query(t.Context(), "SELECT name, toInt64(value) FROM system.server_settings WHERE name IN "+
		"('max_server_memory_usage', 'mark_cache_size', 'index_mark_cache_size', 'primary_index_cache_size')",
		func(rows resultRows) error {
			var name string
			var v int64
			if err := rows.Scan(&name, &v); err != nil {
				return err
			}
			got[name] = uint64(v)
			return nil
		})
	require.NoError(t, err)
	limit := uint64(DefaultMemoryLimitMiB) * 1024 * 1024 // 640 MiB
	assert.Equal(t, map[string]uint64{
		"max_server_memory_usage":  limit,
		"mark_cache_size":          limit / 8,
		"index_mark_cache_size":    limit / 16,
		"primary_index_cache_size": limit / 16,
	}, got)

	// A second component cannot ask the shared engine for another bound.
	cfg := testConfig(s.dbName)
	cfg.MemoryLimitMiB = 1024
	_, err = Open(t.Context(), cfg, zap.NewNop())
	require.Error(t, err)
	assert.ErrorContains(t, err, "memory_limit_mib: 1024 differs from the 640 MiB of the embedded engine")
}
