package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentpulse/agentpulse/bench/internal/workload"
)

// client sends requests to one collector.
type client struct {
	http *http.Client
	base string
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, base: base}
}

// sendResult is the outcome of one request, retries included.
type sendResult struct {
	latency time.Duration // from the intended send time to the 202
	retries int           // 429 and 503 answers that were retried
}

// post sends one /v1/events body until it is accepted. A 429 or 503 is
// retried after its Retry-After; any other refusal is an error, since the
// benchmark's events are all valid.
func (c *client) post(ctx context.Context, body []byte, events int) (int, error) {
	return c.send(ctx, "/v1/events", "application/json", body, http.StatusAccepted, func(msg []byte) error {
		if !bytes.Contains(msg, []byte(`"accepted":`+strconv.Itoa(events)+`,`)) {
			return fmt.Errorf("not every event was accepted: %s", msg)
		}
		return nil
	})
}

// postSpans sends one OTLP/HTTP protobuf traces request, as post does.
func (c *client) postSpans(ctx context.Context, body []byte) (int, error) {
	return c.send(ctx, "/v1/traces", "application/x-protobuf", body, http.StatusOK, func(msg []byte) error {
		resp := ptraceotlp.NewExportResponse()
		if err := resp.UnmarshalProto(msg); err != nil {
			return fmt.Errorf("unreadable OTLP response: %w", err)
		}
		if ps := resp.PartialSuccess(); ps.RejectedSpans() > 0 || ps.ErrorMessage() != "" {
			return fmt.Errorf("spans rejected: %d (%s)", ps.RejectedSpans(), ps.ErrorMessage())
		}
		return nil
	})
}

func (c *client) send(ctx context.Context, path, contentType string, body []byte, ok int, check func([]byte) error) (int, error) {
	retries := 0
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
		if err != nil {
			return retries, err
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-API-Key", productKey)
		resp, err := c.http.Do(req)
		if err != nil {
			return retries, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch resp.StatusCode {
		case ok:
			return retries, check(msg)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			retries++
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				wait = time.Duration(s) * time.Second
			} else {
				return retries, fmt.Errorf("%d without Retry-After: %s", resp.StatusCode, msg)
			}
			select {
			case <-ctx.Done():
				return retries, ctx.Err()
			case <-time.After(wait):
			}
		default:
			return retries, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
		}
	}
}

// batches are prepared request bodies.
type batches struct {
	bodies [][]byte
	counts []int
	events int
	// spans: the bodies are OTLP traces requests (POST /v1/traces).
	spans bool
}

func (b batches) send(ctx context.Context, cl *client, i int) (int, error) {
	if b.spans {
		return cl.postSpans(ctx, b.bodies[i])
	}
	return cl.post(ctx, b.bodies[i], b.counts[i])
}

// prepareSpans encodes the next events of the stream as OTLP traces
// requests of size spans each, n spans in all (see workload.Spans).
func prepareSpans(stream *workload.Stream, n, size int) (batches, error) {
	b := batches{spans: true}
	var pending []workload.Event
	for b.events < n {
		for len(pending) < size {
			e := stream.Next()
			if workload.SpanEvents(&e) {
				pending = append(pending, e)
			}
		}
		take := min(size, n-b.events)
		body, k, err := workload.Spans(pending[:take])
		if err != nil {
			return b, err
		}
		pending = pending[take:]
		b.bodies = append(b.bodies, body)
		b.counts = append(b.counts, k)
		b.events += k
	}
	return b, nil
}

// prepare encodes the next n events of the stream as bodies of size events.
func prepare(stream *workload.Stream, n, size int) batches {
	var b batches
	for sent := 0; sent < n; sent += size {
		k := min(size, n-sent)
		evs := stream.Take(k)
		b.bodies = append(b.bodies, workload.AppendBatch(make([]byte, 0, k*400), evs))
		b.counts = append(b.counts, k)
		b.events += k
	}
	return b
}

// ingestRun is one run of sending prepared batches.
type ingestRun struct {
	Batch       int             `json:"batch"`
	Conns       int             `json:"conns"`
	Events      int             `json:"events"`
	SendSeconds float64         `json:"send_seconds"` // first request to last 202
	PersistSecs float64         `json:"persist_seconds"`
	Retries     int             `json:"retries"`
	Latencies   []time.Duration `json:"-"`
	// Events per second counted by the exporter as written, from the first
	// request to the moment the last event was written.
	Persisted float64 `json:"persisted_per_sec"`
	Accepted  float64 `json:"accepted_per_sec"`
	// CPU time of the collector process (user and system, every thread)
	// per event, from the first request until the last event was written.
	CPUMicros float64 `json:"collector_cpu_us_per_event"`
}

// maxRate sends every batch with conns concurrent senders as fast as the
// collector accepts them, then waits until the exporter has written them.
func maxRate(ctx context.Context, col *collector, b batches, size, conns int) (ingestRun, error) {
	before, err := col.sentEvents()
	if err != nil {
		return ingestRun{}, err
	}
	cpu0, err := col.cpuSeconds()
	if err != nil {
		return ingestRun{}, err
	}
	cl := newClient(col.base, conns)
	run := ingestRun{Batch: size, Conns: conns, Events: b.events, Latencies: make([]time.Duration, len(b.bodies))}
	var next atomic.Int64
	var retries atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(b.bodies) {
					return
				}
				t0 := time.Now()
				r, err := b.send(ctx, cl, i)
				retries.Add(int64(r))
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				run.Latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	if firstErr != nil {
		return run, firstErr
	}
	persisted, err := waitPersisted(ctx, col, before+int64(b.events), 5*time.Minute)
	if err != nil {
		return run, err
	}
	cpu1, err := col.cpuSeconds()
	if err != nil {
		return run, err
	}
	run.CPUMicros = (cpu1 - cpu0) * 1e6 / float64(b.events)
	run.SendSeconds = sent.Seconds()
	run.PersistSecs = persisted.Sub(start).Seconds()
	run.Retries = int(retries.Load())
	run.Accepted = float64(b.events) / run.SendSeconds
	run.Persisted = float64(b.events) / run.PersistSecs
	return run, nil
}

// waitPersisted polls the exporter's count until it reaches want and
// returns when it did.
func waitPersisted(ctx context.Context, col *collector, want int64, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		n, err := col.sentEvents()
		if err == nil && n >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d events written after %s", n, want, limit)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-col.exited:
			return time.Time{}, errors.New("collector exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// rateRun is an open-loop run at a fixed offered rate.
type rateRun struct {
	Batch      int     `json:"batch"`
	Offered    float64 `json:"offered_per_sec"`
	Achieved   float64 `json:"achieved_per_sec"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	Retries    int     `json:"retries"`
	Requests   int     `json:"requests"`
	PersistLag float64 `json:"persist_lag_seconds"` // last 202 to last event written
}

// fixedRate offers the batches at rate events per second: request i is
// due at start + i*interval whatever happened to the others (no
// coordinated omission), and its latency counts from that moment.
func fixedRate(ctx context.Context, col *collector, b batches, size int, rate float64) (rateRun, error) {
	before, err := col.sentEvents()
	if err != nil {
		return rateRun{}, err
	}
	const maxInFlight = 512
	cl := newClient(col.base, 64)
	interval := time.Duration(float64(size) / rate * float64(time.Second))
	lat := make([]time.Duration, len(b.bodies))
	var retries atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup

	start := time.Now()
	for i := range b.bodies {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := b.send(ctx, cl, i)
			retries.Add(int64(r))
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	if firstErr != nil {
		return rateRun{}, firstErr
	}
	done := time.Now()
	persisted, err := waitPersisted(ctx, col, before+int64(b.events), 5*time.Minute)
	if err != nil {
		return rateRun{}, err
	}
	ds := durations(lat)
	return rateRun{
		Batch: size, Offered: rate, Achieved: float64(b.events) / sent.Seconds(),
		P50MS: ds.percentile(50), P99MS: ds.percentile(99),
		Retries: int(retries.Load()), Requests: len(b.bodies),
		PersistLag: max(persisted.Sub(done).Seconds(), 0),
	}, nil
}
