package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chdb-io/chdb-go/chdb"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
)

type insertRun struct {
	Events       int     `json:"events"`
	Statements   int     `json:"statements"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	// CPU time of the process (user and system, every thread) per event,
	// from the first statement until the merges they started are done.
	CPUMicros float64 `json:"cpu_us_per_event"`
}

type rawInsertResult struct {
	Batch       int         `json:"batch"`
	Concurrency int         `json:"concurrency"`
	Runs        []insertRun `json:"runs"`
	// Medians of the runs after the warm-up.
	EventsPerSec float64 `json:"events_per_sec"`
	CPUMicros    float64 `json:"cpu_us_per_event"`
	// Cost of building the statements in Go (not part of the timed runs).
	BuildSecondsPerMillion float64 `json:"build_seconds_per_million"`
}

// rawInsert is the storage limit: the statements the store would run for
// batches of -batch events (with their Native blocks already written),
// prepared beforehand and run back to back on the engine, with nothing
// else in the process.
func rawInsert(ctx context.Context, args []string) (any, error) {
	fs := flag.NewFlagSet("rawinsert", flag.ExitOnError)
	dir := fs.String("dir", "", "fresh data directory")
	batch := fs.Int("batch", 100, "events per INSERT")
	events := fs.Int("events", 100000, "events per run at most")
	seconds := fs.Float64("seconds", 4, "seconds per run at most")
	runs := fs.Int("runs", 3, "timed runs after one warm-up run")
	conc := fs.Int("concurrency", 1, "statements run at once")
	seed := fs.Uint64("seed", 1, "workload seed")
	endFlag := fs.String("end", "", "end of the workload period (RFC3339; default now)")
	_ = fs.Parse(args)
	if *dir == "" {
		return nil, errUsage
	}
	end, err := parseEnd(*endFlag)
	if err != nil {
		return nil, err
	}
	s, sess, err := openStore(ctx, *dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	pipe, err := newPipeline(ctx)
	if err != nil {
		return nil, err
	}
	defer pipe.close(ctx)

	// The Native blocks are written here before the timed runs.
	blocks := filepath.Join(*dir, "blocks")
	if err := os.MkdirAll(blocks, 0o755); err != nil {
		return nil, err
	}
	total := *events * (*runs + 1)
	stream := workload.NewStream(workload.DefaultConfig("bench", total, end, *seed))
	res := rawInsertResult{Batch: *batch, Concurrency: *conc}
	var buildTime time.Duration
	built := 0
	var rates, cpus []float64
	for r := 0; r <= *runs; r++ {
		// Prepare this run's statements: fresh events, processed as the
		// collector processes them, encoded as the store encodes them.
		var stmts []prepared
		for n := 0; n < *events; n += *batch {
			processed, err := pipe.process(ctx, stream.Take(min(*batch, *events-n)))
			if err != nil {
				return nil, err
			}
			start := time.Now()
			p, invalid := s.PrepareInsert(processed, blocks)
			buildTime += time.Since(start)
			built += len(processed)
			if invalid != nil || p.Events != len(processed) {
				return nil, fmt.Errorf("generated events were refused: %v", invalid)
			}
			stmts = append(stmts, prepared{sql: p.Statement, events: p.Events, file: p.File})
		}

		run, err := runStatements(sess, stmts, *conc, time.Duration(*seconds*float64(time.Second)))
		for _, p := range stmts {
			if p.file != "" {
				_ = os.Remove(p.file)
			}
		}
		if err != nil {
			return nil, err
		}
		if r == 0 {
			continue // warm-up
		}
		res.Runs = append(res.Runs, run)
		rates = append(rates, run.EventsPerSec)
		cpus = append(cpus, run.CPUMicros)
	}
	res.EventsPerSec, res.CPUMicros = median(rates), median(cpus)
	res.BuildSecondsPerMillion = buildTime.Seconds() / float64(built) * 1e6
	return res, nil
}

// runStatements runs stmts with conc workers until all are done or the
// time is up.
func runStatements(sess *chdb.Session, stmts []prepared, conc int, limit time.Duration) (insertRun, error) {
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(limit)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(stmts) || time.Now().After(deadline) {
					return
				}
				if _, err := run(sess, stmts[i].sql); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return insertRun{}, firstErr
	}
	n := int(done.Load())
	events := 0
	for i := range n {
		events += stmts[i].events
	}
	// The merges these parts started are part of their cost (after many
	// small inserts they may take longer than the wait allows: then the
	// figure leaves some out).
	for wait := time.Now(); time.Since(wait) < 15*time.Second; time.Sleep(50 * time.Millisecond) {
		out, err := run(sess, "SELECT count() FROM system.merges")
		if err != nil {
			return insertRun{}, err
		}
		if strings.Contains(string(out), "[\"0\"]") {
			break
		}
	}
	cpu := processCPU() - cpu0
	return insertRun{
		Events: events, Statements: n, Seconds: elapsed.Seconds(),
		EventsPerSec: float64(events) / elapsed.Seconds(),
		CPUMicros:    cpu.Seconds() * 1e6 / float64(events),
	}, nil
}

// processCPU is the CPU time this process has used, every thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// prepared is an INSERT statement and the number of events it writes.
type prepared struct {
	sql    string
	events int
	file   string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func parseEnd(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-end: %w", err)
	}
	return t, nil
}
