package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
)

// suiteConfig sizes a run of the whole suite.
type suiteConfig struct {
	bin, engine, workDir, out, jsonOut string
	collectorConfig, dropConfig        string
	queueConfig                        string
	runs                               int
	queryRuns                          int
	batches                            []int
	eventsPerRun                       map[int]int
	rawEvents                          map[int]int
	rawSeconds                         float64
	latencySeconds                     float64
	datasets                           []int
	smoke                              bool
	seed                               uint64
}

func defaultSuite() suiteConfig {
	return suiteConfig{
		runs:           3,
		queryRuns:      40,
		batches:        []int{1, 10, 100, 1000},
		eventsPerRun:   map[int]int{1: 8_000, 10: 40_000, 100: 200_000, 1000: 300_000},
		rawEvents:      map[int]int{1: 2_000, 10: 10_000, 100: 50_000, 1000: 100_000, 10000: 200_000},
		rawSeconds:     4,
		latencySeconds: 8,
		datasets:       []int{1_000_000, 10_000_000},
		seed:           1,
	}
}

func smokeSuite() suiteConfig {
	c := defaultSuite()
	c.smoke = true
	c.runs = 1
	c.queryRuns = 5
	c.eventsPerRun = map[int]int{1: 500, 10: 2_000, 100: 10_000, 1000: 20_000}
	c.rawEvents = map[int]int{1: 200, 10: 1_000, 100: 5_000, 1000: 10_000, 10000: 20_000}
	c.rawSeconds = 1
	c.latencySeconds = 2
	c.datasets = []int{50_000}
	return c
}

// results is everything a suite run measured; BENCHMARKS.md is written
// from it.
type results struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Machine  machine   `json:"machine"`
	Smoke    bool      `json:"smoke"`
	Runs     int       `json:"runs"`

	RawInsert    map[int]float64 `json:"raw_insert_events_per_sec"` // by batch size
	RawInsertCPU map[int]float64 `json:"raw_insert_cpu_us_per_event"`
	Decode       map[int]float64 `json:"decode_limit_events_per_sec"`
	// Baseline (d), batch 100 only: decoding and the persistent queue,
	// no processing and no storage.
	Queue    float64 `json:"queue_limit_events_per_sec"`
	QueueCPU float64 `json:"queue_limit_cpu_us_per_event"`
	// Collector CPU microseconds per event at the maximum rate.
	DecodeCPU map[int]float64 `json:"decode_limit_cpu_us_per_event"`
	IngestCPU map[int]float64 `json:"ingest_cpu_us_per_event"`
	// OTLP GenAI spans, 100 per request: decoded and dropped (b), and
	// through the quick-start pipeline.
	DecodeSpans    float64         `json:"decode_limit_spans_per_sec"`
	DecodeSpansCPU float64         `json:"decode_limit_cpu_us_per_span"`
	Spans          spanResult      `json:"spans"`
	Persisted      map[int]float64 `json:"persisted_events_per_sec"`
	Accepted       map[int]float64 `json:"accepted_events_per_sec"`
	IngestP50      map[int]float64 `json:"ingest_p50_ms_at_max"`
	IngestP99      map[int]float64 `json:"ingest_p99_ms_at_max"`
	Retries        map[int]int     `json:"retries_at_max"`

	Latency     []rateRun `json:"latency"` // batch 100 at 50 % and 90 % of its maximum
	Overload    rateRun   `json:"overload"`
	Queryable   samples   `json:"queryable_ms"`
	QueryableAt string    `json:"queryable_during"`

	IngestRSSPeak int64       `json:"ingest_rss_peak_bytes"`
	Sent          int64       `json:"events_sent"`
	Stored        countResult `json:"stored"`

	Datasets []datasetResult `json:"datasets"`

	// ProcessorBytesPerSession is the processor's heap per open session
	// (BenchmarkMemoryPerOpenSession).
	ProcessorBytesPerSession float64 `json:"processor_bytes_per_open_session"`
}

type spanResult struct {
	Persisted, Accepted, CPUMicros, P50MS, P99MS float64
}

type countResult struct {
	Rows        int64            `json:"rows"`
	Events      int64            `json:"events"`
	Sessions    int64            `json:"sessions"`
	BytesOnDisk int64            `json:"bytes_on_disk"`
	DirBytes    int64            `json:"dir_bytes"`
	TableBytes  map[string]int64 `json:"TableBytes"`
}

type endpointTiming struct {
	P50, P99           float64
	RawP50, RawP99     float64
	StoreP50, StoreP99 float64
	Statements         int
	Runs               int
}

type datasetResult struct {
	Events      int                        `json:"events"`
	LoadSeconds float64                    `json:"load_seconds"`
	Stored      countResult                `json:"stored"`
	Endpoints   map[string]*endpointTiming `json:"endpoints"`
	RSSPeak     int64                      `json:"rss_peak_bytes"`
}

// runSuite runs every benchmark and writes BENCHMARKS.md.
func runSuite(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	smoke := fs.Bool("smoke", false, "a short run: small sizes, one run each (for CI)")
	bin := fs.String("bin", "bin/agentpulse", "collector binary")
	engine := fs.String("engine", "bin/bench-engine", "the bench/engine binary")
	out := fs.String("out", "BENCHMARKS.md", "report to write")
	jsonOut := fs.String("json", "", "also write the figures as JSON here")
	work := fs.String("dir", "", "work directory (default: a temporary one, removed)")
	_ = fs.Parse(args)

	cfg := defaultSuite()
	if *smoke {
		cfg = smokeSuite()
	}
	cfg.bin, cfg.engine, cfg.out, cfg.jsonOut = abs(*bin), abs(*engine), *out, *jsonOut
	cfg.collectorConfig, cfg.dropConfig = abs("bench/collector.yaml"), abs("bench/decode-drop.yaml")
	cfg.queueConfig = abs("bench/queue-drop.yaml")
	dir, cleanup, err := workDir(*work)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.workDir = dir

	r := &results{Started: time.Now().UTC(), Smoke: cfg.smoke, Runs: cfg.runs, Machine: describeMachine(cfg)}
	steps := []struct {
		name string
		run  func(context.Context, suiteConfig, *results) error
	}{
		{"raw insert (baseline a)", rawInsertBaseline},
		{"decode and drop (baseline b)", decodeBaseline},
		{"decode, persistent queue and drop (baseline d)", queueBaseline},
		{"ingest", ingestSuite},
		{"queries", querySuite},
		{"processor state", processorState},
	}
	for _, s := range steps {
		logf("== %s", s.name)
		if err := s.run(ctx, cfg, r); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	r.Duration = time.Since(r.Started).Round(time.Second).String()
	if cfg.jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", " ")
		if err := os.WriteFile(cfg.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	report := renderReport(r, cfg)
	if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
		return err
	}
	logf("wrote %s (%s)", cfg.out, r.Duration)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// runEngine runs the engine tool and decodes its JSON answer.
func runEngine(ctx context.Context, cfg suiteConfig, into any, args ...string) error {
	cmd := exec.CommandContext(ctx, cfg.engine, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("engine %s: %w\n%s", args[0], err, stderr.String())
	}
	return json.Unmarshal(out, into)
}

func rawInsertBaseline(ctx context.Context, cfg suiteConfig, r *results) error {
	r.RawInsert, r.RawInsertCPU = map[int]float64{}, map[int]float64{}
	sizes := append(append([]int(nil), cfg.batches...), 10000)
	for _, b := range sizes {
		dir := filepath.Join(cfg.workDir, fmt.Sprintf("raw-%d", b))
		var res struct {
			EventsPerSec float64 `json:"events_per_sec"`
			CPUMicros    float64 `json:"cpu_us_per_event"`
		}
		err := runEngine(ctx, cfg, &res, "rawinsert", "-dir", dir, "-batch", fmt.Sprint(b),
			"-events", fmt.Sprint(cfg.rawEvents[b]), "-runs", fmt.Sprint(cfg.runs),
			"-seconds", fmt.Sprint(cfg.rawSeconds), "-seed", fmt.Sprint(cfg.seed+100))
		if err != nil {
			return err
		}
		_ = os.RemoveAll(dir)
		r.RawInsert[b], r.RawInsertCPU[b] = res.EventsPerSec, res.CPUMicros
		logf("raw insert batch %d: %.0f events/s, %.1f us CPU per event", b, res.EventsPerSec, res.CPUMicros)
	}
	return nil
}

// conns is the number of concurrent senders per batch size.
func conns(batch int) int {
	switch {
	case batch <= 10:
		return 32
	case batch <= 100:
		return 16
	default:
		return 8
	}
}

// maxRuns sends cfg.runs timed runs (after a warm-up) of each batch size
// and returns the medians.
func maxRuns(ctx context.Context, cfg suiteConfig, col *collector, stream *workload.Stream, batch int) (ingestRun, []ingestRun, error) {
	return maxRunsOf(ctx, cfg, col, batch, func() (batches, error) {
		return prepare(stream, cfg.eventsPerRun[batch], batch), nil
	})
}

// maxSpanRuns is maxRuns with OTLP traces requests of batch spans.
func maxSpanRuns(ctx context.Context, cfg suiteConfig, col *collector, stream *workload.Stream, batch int) (ingestRun, []ingestRun, error) {
	return maxRunsOf(ctx, cfg, col, batch, func() (batches, error) {
		return prepareSpans(stream, cfg.eventsPerRun[batch], batch)
	})
}

func maxRunsOf(ctx context.Context, cfg suiteConfig, col *collector, batch int, next func() (batches, error)) (ingestRun, []ingestRun, error) {
	var runs []ingestRun
	for i := 0; i <= cfg.runs; i++ {
		b, err := next()
		if err != nil {
			return ingestRun{}, nil, err
		}
		run, err := maxRate(ctx, col, b, batch, conns(batch))
		if err != nil {
			return ingestRun{}, nil, err
		}
		if i > 0 {
			runs = append(runs, run)
		}
	}
	var persisted, accepted, cpu []float64
	for _, run := range runs {
		persisted = append(persisted, run.Persisted)
		accepted = append(accepted, run.Accepted)
		cpu = append(cpu, run.CPUMicros)
	}
	med := runs[0]
	for _, run := range runs {
		if run.Persisted == median(persisted) {
			med = run
		}
	}
	med.Persisted, med.Accepted, med.CPUMicros = median(persisted), median(accepted), median(cpu)
	return med, runs, nil
}

func decodeBaseline(ctx context.Context, cfg suiteConfig, r *results) error {
	col, err := startCollector(ctx, cfg.bin, cfg.dropConfig, filepath.Join(cfg.workDir, "drop"))
	if err != nil {
		return err
	}
	defer col.stop()
	stream := workload.NewStream(workload.DefaultConfig(benchProduct, 20_000_000, time.Now(), cfg.seed+200))
	r.Decode, r.DecodeCPU = map[int]float64{}, map[int]float64{}
	for _, b := range cfg.batches {
		med, _, err := maxRuns(ctx, cfg, col, stream, b)
		if err != nil {
			return err
		}
		r.Decode[b], r.DecodeCPU[b] = med.Accepted, med.CPUMicros
		logf("decode and drop batch %d: %.0f events/s, %.1f us CPU per event", b, med.Accepted, med.CPUMicros)
	}
	med, _, err := maxSpanRuns(ctx, cfg, col, stream, 100)
	if err != nil {
		return fmt.Errorf("OTLP spans: %w", err)
	}
	r.DecodeSpans, r.DecodeSpansCPU = med.Accepted, med.CPUMicros
	logf("decode and drop, OTLP spans, batch 100: %.0f spans/s, %.1f us CPU per span", med.Accepted, med.CPUMicros)
	return nil
}

// queueBaseline is the same binary with the persistent sending queue of
// the quick start between the receiver and an exporter that drops: what
// the durability of a 202 costs before any processing or storage.
func queueBaseline(ctx context.Context, cfg suiteConfig, r *results) error {
	col, err := startCollector(ctx, cfg.bin, cfg.queueConfig, filepath.Join(cfg.workDir, "queue"))
	if err != nil {
		return err
	}
	defer col.stop()
	stream := workload.NewStream(workload.DefaultConfig(benchProduct, 20_000_000, time.Now(), cfg.seed+300))
	med, _, err := maxRuns(ctx, cfg, col, stream, 100)
	if err != nil {
		return err
	}
	r.Queue, r.QueueCPU = med.Persisted, med.CPUMicros
	logf("persistent queue and drop batch 100: %.0f events/s, %.1f us CPU per event", med.Persisted, med.CPUMicros)
	return nil
}

func ingestSuite(ctx context.Context, cfg suiteConfig, r *results) error {
	dir := filepath.Join(cfg.workDir, "ingest")
	col, err := startCollector(ctx, cfg.bin, cfg.collectorConfig, dir)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = col.stop()
		}
	}()
	stream := workload.NewStream(workload.DefaultConfig(benchProduct, 20_000_000, time.Now(), cfg.seed))
	r.Persisted, r.Accepted = map[int]float64{}, map[int]float64{}
	r.IngestP50, r.IngestP99, r.Retries = map[int]float64{}, map[int]float64{}, map[int]int{}
	r.IngestCPU = map[int]float64{}
	for _, b := range cfg.batches {
		med, runs, err := maxRuns(ctx, cfg, col, stream, b)
		if err != nil {
			return err
		}
		var p50, p99 []float64
		for _, run := range runs {
			ls := durations(run.Latencies)
			p50, p99 = append(p50, ls.percentile(50)), append(p99, ls.percentile(99))
			r.Retries[b] += run.Retries
		}
		r.Persisted[b], r.Accepted[b], r.IngestCPU[b] = med.Persisted, med.Accepted, med.CPUMicros
		r.IngestP50[b], r.IngestP99[b] = median(p50), median(p99)
		logf("ingest batch %d: %.0f events/s persisted (accepted %.0f/s), %.1f us CPU per event", b, med.Persisted, med.Accepted, med.CPUMicros)
	}
	// The same kind of sessions as OTLP GenAI spans (POST /v1/traces).
	med, runs, err := maxSpanRuns(ctx, cfg, col, stream, 100)
	if err != nil {
		return fmt.Errorf("OTLP spans: %w", err)
	}
	var sp50, sp99 []float64
	for _, run := range runs {
		ls := durations(run.Latencies)
		sp50, sp99 = append(sp50, ls.percentile(50)), append(sp99, ls.percentile(99))
	}
	r.Spans = spanResult{Persisted: med.Persisted, Accepted: med.Accepted, CPUMicros: med.CPUMicros, P50MS: median(sp50), P99MS: median(sp99)}
	logf("ingest, OTLP spans, batch 100: %.0f events/s persisted, %.1f us CPU per event", med.Persisted, med.CPUMicros)

	// Latency at 50 % and 90 % of the maximum rate of batch 100, with
	// event-to-queryable probes during the 50 % runs.
	const latencyBatch = 100
	maxPersisted := r.Persisted[latencyBatch]
	for _, frac := range []float64{0.5, 0.9} {
		rate := frac * maxPersisted
		var runs []rateRun
		var probes []float64
		for range cfg.runs {
			n := int(rate * cfg.latencySeconds)
			b := prepare(stream, n, latencyBatch)
			var probeDone chan []float64
			probeCtx, stopProbe := context.WithCancel(ctx)
			if frac == 0.5 {
				probeDone = make(chan []float64, 1)
				go func() { probeDone <- queryableProbe(probeCtx, col, stream) }()
			}
			run, err := fixedRate(ctx, col, b, latencyBatch, rate)
			stopProbe()
			if err != nil {
				return err
			}
			if probeDone != nil {
				probes = append(probes, <-probeDone...)
			}
			runs = append(runs, run)
		}
		agg := runs[0]
		var p50, p99, achieved []float64
		for _, run := range runs {
			p50, p99, achieved = append(p50, run.P50MS), append(p99, run.P99MS), append(achieved, run.Achieved)
			agg.Retries += run.Retries
		}
		agg.Retries -= runs[0].Retries
		agg.P50MS, agg.P99MS, agg.Achieved = median(p50), median(p99), median(achieved)
		r.Latency = append(r.Latency, agg)
		if frac == 0.5 {
			r.Queryable = sortedMS(probes)
			r.QueryableAt = fmt.Sprintf("%.0f events/s offered in batches of %d", rate, latencyBatch)
		}
		logf("latency at %.0f%% (%.0f events/s): p50 %.1f ms, p99 %.1f ms", frac*100, rate, agg.P50MS, agg.P99MS)
	}

	// Overload: twice the maximum, open loop, for long enough to fill the
	// exporter's queue: every event must still be stored, the excess
	// answered 429 or 503 with Retry-After.
	{
		rate := 2 * maxPersisted
		b := prepare(stream, int(rate*cfg.latencySeconds*2), latencyBatch)
		run, err := fixedRate(ctx, col, b, latencyBatch, rate)
		if err != nil {
			return err
		}
		r.Overload = run
		logf("overload at %.0f events/s: achieved %.0f/s, %d retried answers", rate, run.Achieved, run.Retries)
	}

	// Every event the receiver accepted (answered 202) must be stored.
	accepted, err := col.metric("otelcol_receiver_accepted_log_records")
	if err != nil {
		return err
	}
	if _, err := waitPersisted(ctx, col, accepted, 5*time.Minute); err != nil {
		return err
	}
	r.IngestRSSPeak = col.peakRSS()
	if err := col.stop(); err != nil {
		return err
	}
	stopped = true
	r.Sent = accepted
	if err := runEngine(ctx, cfg, &r.Stored, "count", "-dir", dir); err != nil {
		return err
	}
	logf("sent %d events, stored %d", r.Sent, r.Stored.Events)
	if r.Stored.Events != r.Sent {
		return fmt.Errorf("%d events were accepted but %d are stored", r.Sent, r.Stored.Events)
	}
	return nil
}

// queryableProbe writes one event of a new session every 250 ms and
// measures how long until GET /v1/sessions/{id} finds it.
func queryableProbe(ctx context.Context, col *collector, stream *workload.Stream) []float64 {
	cl := newClient(col.base, 2)
	var out []float64
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return out
		case <-time.After(250 * time.Millisecond):
		}
		id := fmt.Sprintf("probe_%d_%d", i, rng.Uint64())
		e := workload.Event{
			EventID: id, SessionID: id, EventType: "message.user", Timestamp: time.Now().UTC().Truncate(time.Millisecond),
			UserID: "probe", ProductID: benchProduct,
		}
		start := time.Now()
		if _, err := cl.post(ctx, workload.AppendBatch(nil, []workload.Event{e}), 1); err != nil {
			if ctx.Err() == nil {
				logf("event-to-queryable probe: %v", err)
			}
			return out
		}
		for {
			ok, err := sessionExists(ctx, cl, id)
			if err != nil && ctx.Err() == nil {
				logf("event-to-queryable probe: %v", err)
			}
			if ok {
				out = append(out, float64(time.Since(start).Microseconds())/1000)
				break
			}
			if time.Since(start) > time.Minute {
				logf("event-to-queryable probe: session %s not found after a minute", id)
				break
			}
			select {
			case <-ctx.Done():
				logf("event-to-queryable probe: run ended %s after sending %s", time.Since(start), id)
				return out
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

func sessionExists(ctx context.Context, cl *client, id string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		cl.base+"/v1/sessions/"+url.PathEscape(id)+"?product_id="+benchProduct, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("X-API-Key", dashboardKey)
	resp, err := cl.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("session detail answered %d", resp.StatusCode)
}

// endpoints are the query benchmarks: name, then the path and query.
var endpoints = []struct{ name, path string }{
	{"funnel", "/v1/funnel?product_id=" + benchProduct},
	{"economics", "/v1/economics?product_id=" + benchProduct},
	{"topics", "/v1/topics?product_id=" + benchProduct},
	{"sessions", "/v1/sessions?limit=50&product_id=" + benchProduct},
	{"session", "/v1/sessions/%s?product_id=" + benchProduct},
}

func querySuite(ctx context.Context, cfg suiteConfig, r *results) error {
	dir := filepath.Join(cfg.workDir, "queries")
	end := time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339)
	total := cfg.datasets[len(cfg.datasets)-1]
	loaded := 0
	for _, n := range cfg.datasets {
		var load struct {
			Seconds float64 `json:"seconds"`
		}
		logf("loading events %d to %d", loaded, n)
		err := runEngine(ctx, cfg, &load, "load", "-dir", dir, "-events", fmt.Sprint(n-loaded), "-skip", fmt.Sprint(loaded),
			"-total", fmt.Sprint(total), "-end", end, "-seed", fmt.Sprint(cfg.seed+300))
		if err != nil {
			return err
		}
		loaded = n
		d := datasetResult{Events: n, LoadSeconds: load.Seconds, Endpoints: map[string]*endpointTiming{}}
		if err := runEngine(ctx, cfg, &d.Stored, "count", "-dir", dir); err != nil {
			return err
		}

		// Baseline c first (the engine holds the directory alone), which
		// also picks the sessions for the detail.
		raw := map[string]json.RawMessage{}
		if err := runEngine(ctx, cfg, &raw, "rawqueries", "-dir", dir, "-runs", fmt.Sprint(cfg.queryRuns)); err != nil {
			return err
		}
		var ids []string
		if err := json.Unmarshal(raw["session_ids"], &ids); err != nil || len(ids) == 0 {
			return fmt.Errorf("no session ids from the query baseline: %v", err)
		}
		for _, e := range endpoints {
			var t struct {
				Statements int       `json:"statements"`
				StoreMS    []float64 `json:"store_ms"`
				RawMS      []float64 `json:"raw_ms"`
			}
			if err := json.Unmarshal(raw[e.name], &t); err != nil {
				return fmt.Errorf("query baseline %s: %w", e.name, err)
			}
			st, rw := sortedMS(t.StoreMS), sortedMS(t.RawMS)
			d.Endpoints[e.name] = &endpointTiming{
				Statements: t.Statements, RawP50: rw.percentile(50), RawP99: rw.percentile(99),
				StoreP50: st.percentile(50), StoreP99: st.percentile(99),
			}
		}

		col, err := startCollector(ctx, cfg.bin, cfg.collectorConfig, dir)
		if err != nil {
			return err
		}
		// The refresher's first pass, a second after start.
		time.Sleep(2 * time.Second)
		cl := newClient(col.base, 1)
		for _, e := range endpoints {
			var ms []float64
			for i := -3; i < cfg.queryRuns; i++ {
				path := e.path
				if strings.Contains(path, "%s") {
					path = fmt.Sprintf(path, url.PathEscape(ids[(i+3)%len(ids)]))
				}
				d, err := timedGet(ctx, cl, path)
				if err != nil {
					_ = col.stop()
					return fmt.Errorf("%s: %w", e.name, err)
				}
				if i >= 0 {
					ms = append(ms, d)
				}
			}
			s := sortedMS(ms)
			t := d.Endpoints[e.name]
			t.P50, t.P99, t.Runs = s.percentile(50), s.percentile(99), len(ms)
			logf("%d events, %s: p50 %.1f ms, p99 %.1f ms (SQL alone p50 %.1f ms)", n, e.name, t.P50, t.P99, t.RawP50)
		}
		d.RSSPeak = col.peakRSS()
		if err := col.stop(); err != nil {
			return err
		}
		r.Datasets = append(r.Datasets, d)
	}
	return nil
}

// timedGet runs one query request with the dashboard key and returns its
// latency in milliseconds.
func timedGet(ctx context.Context, cl *client, path string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", dashboardKey)
	start := time.Now()
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return elapsed, nil
}

var bytesPerSession = regexp.MustCompile(`([0-9.]+) bytes/session`)

// processorState runs the processor's BenchmarkMemoryPerOpenSession (the
// heap held by 100,000 open sessions, divided by their number), which needs
// the processor's internals and so runs as a Go benchmark.
func processorState(ctx context.Context, _ suiteConfig, r *results) error {
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-run", "^$", "-bench", "^BenchmarkMemoryPerOpenSession$",
		"-benchtime", "3x", "./processor/agentpulseprocessor")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	m := bytesPerSession.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("no bytes/session in the benchmark's output: %s", out)
	}
	if r.ProcessorBytesPerSession, err = strconv.ParseFloat(string(m[1]), 64); err != nil {
		return err
	}
	logf("processor state: %.0f bytes per open session", r.ProcessorBytesPerSession)
	return nil
}
