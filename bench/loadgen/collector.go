package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	benchProduct = "bench"
	productKey   = "ap_prod_bench-0123456789abcdef"
	dashboardKey = "ap_dash_bench-0123456789abcdef"
)

// collector is a running collector process.
type collector struct {
	base        string
	metricsURL  string
	dataDir     string
	cmd         *exec.Cmd
	out         bytes.Buffer
	outMu       sync.Mutex
	exited      chan struct{}
	rssMu       sync.Mutex
	rssMax      int64
	rssSamples  []int64
	stopSampler chan struct{}
}

func (c *collector) Write(p []byte) (int, error) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.out.Len() < 1<<20 {
		c.out.Write(p)
	}
	return len(p), nil
}

func (c *collector) output() string {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.out.String()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startCollector runs bin with config on dataDir and waits until it
// answers.
func startCollector(ctx context.Context, bin, config, dataDir string) (*collector, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	c := &collector{
		base:        fmt.Sprintf("http://127.0.0.1:%d", port),
		metricsURL:  fmt.Sprintf("http://127.0.0.1:%d/metrics", mport),
		dataDir:     dataDir,
		exited:      make(chan struct{}),
		stopSampler: make(chan struct{}),
	}
	c.cmd = exec.Command(bin, "--config", config)
	c.cmd.Env = append(os.Environ(),
		fmt.Sprintf("AGENTPULSE_ADDR=127.0.0.1:%d", port),
		"AGENTPULSE_DATA_DIR="+dataDir,
		"AGENTPULSE_PRODUCT="+benchProduct,
		"AGENTPULSE_PRODUCT_KEY="+productKey,
		"AGENTPULSE_DASHBOARD_KEY="+dashboardKey,
		fmt.Sprintf("BENCH_METRICS_PORT=%d", mport),
	)
	c.cmd.Dir = dataDir
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the collector: %w", err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()

	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-c.exited:
			return nil, fmt.Errorf("collector exited at start:\n%s", c.output())
		case <-ctx.Done():
			c.kill()
			return nil, ctx.Err()
		default:
		}
		if _, err := c.sentEvents(); err == nil {
			if resp, err := http.Get(c.base + "/v1/funnel?product_id=" + benchProduct); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 500 {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("collector did not answer within 90s:\n%s", c.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	go c.sampleRSS()
	return c, nil
}

// sampleRSS records the process's resident memory every 100 ms.
func (c *collector) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stopSampler:
			return
		case <-c.exited:
			return
		case <-t.C:
		}
		rss, err := readRSS(c.cmd.Process.Pid)
		if err != nil {
			continue
		}
		c.rssMu.Lock()
		c.rssSamples = append(c.rssSamples, rss)
		c.rssMax = max(c.rssMax, rss)
		c.rssMu.Unlock()
	}
}

// resetRSS starts a new window of RSS samples and returns the maximum of
// the previous one.
func (c *collector) resetRSS() int64 {
	c.rssMu.Lock()
	defer c.rssMu.Unlock()
	m := c.rssMax
	c.rssMax = 0
	c.rssSamples = c.rssSamples[:0]
	return m
}

func (c *collector) peakRSS() int64 {
	c.rssMu.Lock()
	defer c.rssMu.Unlock()
	return c.rssMax
}

func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// sentEvents is the exporter's count of events written to storage (or, in
// the decode-and-drop configuration, the debug exporter's count).
func (c *collector) sentEvents() (int64, error) {
	return c.metric("otelcol_exporter_sent_log_records")
}

func (c *collector) metric(name string) (int64, error) {
	resp, err := http.Get(c.metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		total += v
		found = true
	}
	if !found {
		return 0, nil
	}
	return int64(total), sc.Err()
}

// stop shuts the collector down gracefully (the exporter drains its queue)
// and waits for it to exit.
func (c *collector) stop() error {
	close(c.stopSampler)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(120 * time.Second):
		c.kill()
		return errors.New("collector did not stop within 120s")
	}
}

func (c *collector) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// dirSize is the size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// cpuSeconds is the CPU time (user and system) the collector process has
// used so far, from /proc/<pid>/stat.
func (c *collector) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// Clock ticks of 1/100 s (USER_HZ on Linux).
	return float64(utime+stime) / 100, nil
}
