// Package e2e runs the real collector binary on the embedded store and checks
// every analytics endpoint against answers computed here from the events.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// collector is a running collector process.
type collector struct {
	base     string
	grpcAddr string // the OTLP/gRPC receiver's address
	prodKey  string
	dashKey  string
	dataDir  string
	cmd      *exec.Cmd
	out      *lockedBuffer
	exited   chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agentpulse-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "agentpulse")
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "otelcol")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// binary is AGENTPULSE_COLLECTOR_BIN (set by make test), else a fresh build.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AGENTPULSE_COLLECTOR_BIN"); p != "" {
		_, err := os.Stat(p)
		require.NoError(t, err, "AGENTPULSE_COLLECTOR_BIN names a missing file; run make build")
		return p
	}
	bin, err := buildOnce()
	require.NoError(t, err)
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startCollector runs the binary with config/quickstart.yaml, as make run
// does, and waits until the query API answers.
func startCollector(t *testing.T, product, dataDir string) *collector {
	t.Helper()
	require.NotEmpty(t, os.Getenv("CHDB_LIB_PATH"), "CHDB_LIB_PATH must name libchdb.so (make test sets it)")
	addr := freePort(t)
	c := &collector{
		base:     "http://" + addr,
		grpcAddr: freePort(t),
		prodKey:  "ap_prod_e2e-" + strings.Repeat("p", 20),
		dashKey:  "ap_dash_e2e-" + strings.Repeat("d", 20),
		dataDir:  dataDir,
	}
	c.run(t, filepath.Join(repoRoot(t), "config", "quickstart.yaml"),
		"AGENTPULSE_ADDR="+addr,
		"AGENTPULSE_OTLP_GRPC_ADDR="+c.grpcAddr,
		"AGENTPULSE_DATA_DIR="+dataDir,
		"AGENTPULSE_PRODUCT="+product,
		"AGENTPULSE_PRODUCT_KEY="+c.prodKey,
		"AGENTPULSE_DASHBOARD_KEY="+c.dashKey,
	)
	return c
}

// run starts the binary with a configuration and environment, and waits
// until c.base answers /healthz.
func (c *collector) run(t *testing.T, config string, env ...string) {
	t.Helper()
	c.out = &lockedBuffer{}
	c.cmd = exec.Command(binary(t), "--config", config)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	c.exited = make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.stop(t) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(c.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("collector exited before it was ready:\n%s", c.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector did not become ready: %v\n%s", err, c.out.String())
		}
	}
}

func (c *collector) stop(t *testing.T) {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if t.Failed() {
		t.Logf("collector output:\n%s", c.out.String())
	}
}

type response struct {
	status int
	header http.Header
	raw    []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &m), "body: %s", r.raw)
	return m
}

func (c *collector) do(t *testing.T, method, path string, body []byte, headers map[string]string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}
}

func (c *collector) get(t *testing.T, path string) response {
	t.Helper()
	return c.do(t, http.MethodGet, path, nil, map[string]string{"X-API-Key": c.prodKey})
}

func (c *collector) post(t *testing.T, body []byte, gz bool) response {
	t.Helper()
	h := map[string]string{"X-API-Key": c.prodKey}
	if gz {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(body)
		require.NoError(t, w.Close())
		body = buf.Bytes()
		h["Content-Encoding"] = "gzip"
	}
	return c.do(t, http.MethodPost, "/v1/events", body, h)
}

// waitFor polls path until check passes on its JSON answer.
func (c *collector) waitFor(t *testing.T, path string, check func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.get(t, path)
		if r.status == http.StatusOK {
			m := r.json(t)
			if check(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the expected state; last answer %d %s", path, r.status, r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
