// Command loadgen is the AgentPulse benchmark: a seeded generator of agent
// sessions, a load generator for POST /v1/events and the query endpoints,
// and the driver that runs the whole suite against the real collector
// binary and writes BENCHMARKS.md. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runSuite(ctx, os.Args[2:])
	case "ingest":
		err = ingestCmd(ctx, os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  loadgen run [flags]      the whole suite; writes BENCHMARKS.md
  loadgen ingest [flags]   one max-rate ingest run against a fresh collector
  loadgen report [flags]   write the report again from the JSON of a run`)
	os.Exit(2)
}

// ingestCmd starts a collector on a fresh directory and sends events at
// the maximum rate, for profiling and quick comparisons.
func ingestCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	bin := fs.String("bin", "bin/agentpulse", "collector binary")
	config := fs.String("config", "bench/collector.yaml", "collector configuration")
	events := fs.Int("events", 200000, "events per run")
	batch := fs.Int("batch", 100, "events per request")
	conns := fs.Int("conns", 16, "concurrent requests")
	runs := fs.Int("runs", 3, "runs after one warm-up")
	work := fs.String("dir", "", "work directory (default: a temporary one, removed)")
	perfOut := fs.String("perf", "", "record the collector with perf into this file during the timed runs")
	logOut := fs.String("log", "", "write the collector's output (its first MiB) to this file at the end")
	rate := fs.Float64("rate", 0, "offer this many events/s (open loop) with event-to-queryable probes, instead of the maximum rate")
	_ = fs.Parse(args)

	dir, cleanup, err := workDir(*work)
	if err != nil {
		return err
	}
	defer cleanup()
	col, err := startCollector(ctx, abs(*bin), abs(*config), filepath.Join(dir, "collector"))
	if err != nil {
		return err
	}
	defer func() {
		_ = col.stop()
		if *logOut != "" {
			_ = os.WriteFile(*logOut, []byte(col.output()), 0o644)
		}
	}()
	stream := workload.NewStream(workload.DefaultConfig(benchProduct, *events*(*runs+1), time.Now(), 1))
	var perf *exec.Cmd
	for r := 0; r <= *runs; r++ {
		b := prepare(stream, *events, *batch)
		if r == 1 && *perfOut != "" {
			perf = exec.Command("perf", "record", "-F", "499", "-g", "-o", *perfOut, "-p", strconv.Itoa(col.cmd.Process.Pid))
			perf.Stdout, perf.Stderr = os.Stderr, os.Stderr
			if err := perf.Start(); err != nil {
				return err
			}
		}
		if *rate > 0 {
			probeCtx, stopProbe := context.WithCancel(ctx)
			probeDone := make(chan []float64, 1)
			go func() { probeDone <- queryableProbe(probeCtx, col, stream) }()
			run, err := fixedRate(ctx, col, b, *batch, *rate)
			stopProbe()
			if err != nil {
				return err
			}
			probes := sortedMS(<-probeDone)
			fmt.Printf("run %d: offered %.0f/s achieved %.0f/s p50=%.1fms p99=%.1fms persist_lag=%.2fs queryable=%v rss=%dMiB\n",
				r, *rate, run.Achieved, run.P50MS, run.P99MS, run.PersistLag, probes, col.resetRSS()>>20)
			continue
		}
		run, err := maxRate(ctx, col, b, *batch, *conns)
		if err != nil {
			return err
		}
		ls := durations(run.Latencies)
		out, _ := json.Marshal(run)
		fmt.Printf("run %d: %s p50=%.1fms p99=%.1fms rss=%dMiB cpu=%.1fus/event\n", r, out, ls.percentile(50), ls.percentile(99),
			col.resetRSS()>>20, run.CPUMicros)
	}
	if perf != nil {
		_ = perf.Process.Signal(os.Interrupt)
		_ = perf.Wait()
	}
	return nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	d, err := os.MkdirTemp("", "agentpulse-bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}

// reportCmd renders the report from the figures a full run saved.
func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("json", "bin/BENCHMARKS.json", "figures of a run (loadgen run -json)")
	out := fs.String("out", "BENCHMARKS.md", "report to write")
	_ = fs.Parse(args)
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("failed to read %s: %w", *in, err)
	}
	cfg := defaultSuite()
	if r.Smoke {
		cfg = smokeSuite()
	}
	return os.WriteFile(*out, []byte(renderReport(&r, cfg)), 0o644)
}
