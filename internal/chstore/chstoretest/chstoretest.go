// Package chstoretest runs the tests of a package on the embedded engine.
// The engine holds one data directory per process, so a test binary opens
// one directory for all its tests, and tests isolate themselves by database.
package chstoretest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/chstore"
)

var dataDir string

// Main runs m with one temporary data directory kept open for the whole
// run, removes it afterwards and, when the tests passed, fails the run if
// goroutines were left running. Call it from TestMain: os.Exit(Main(m)).
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "agentpulse-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	dataDir = dir
	keeper, err := chstore.Open(context.Background(), Config("keeper"), zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	code := m.Run()
	_ = keeper.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	return code
}

// Config is the embedded store of the test binary, in database.
func Config(database string) chstore.Config {
	cfg := chstore.NewDefaultConfig()
	cfg.Path = dataDir
	cfg.Database = database
	return cfg
}
