package chstore

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// testDir is the one data directory of this test binary: the embedded
// engine holds one directory per process, so tests isolate themselves by
// database instead.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	// Tests refresh session summaries themselves (Store.Refresh), so that
	// each answer is known to come from stored or unrefreshed summaries.
	refreshInterval = time.Hour
	// Keep the engine open for the whole run so that tests do not reopen it.
	keeper, err := Open(context.Background(), testConfig("keeper"), zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = keeper.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func testConfig(database string) Config {
	cfg := NewDefaultConfig()
	cfg.Path = testDir
	cfg.Database = database
	return cfg
}

var dbCounter atomic.Int64

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// newTestStore opens a store on a fresh database named after the test and
// drops the database when the test ends.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	name := strings.ToLower(nonIdent.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t%d_%s", dbCounter.Add(1), name)
	s, err := Open(t.Context(), testConfig(db), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(db)))
		require.NoError(t, s.Close())
	})
	return s
}
