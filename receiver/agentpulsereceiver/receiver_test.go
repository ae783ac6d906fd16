package agentpulsereceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/receiver/agentpulsereceiver/internal/metadata"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	productKey   = "ap_prod_0123456789abcdefghij"
	dashboardKey = "ap_dash_0123456789abcdefghij"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startReceiver runs the receiver on its own endpoint and returns its URL.
func startReceiver(t *testing.T, next consumer.Logs, mutate func(*Config)) string {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = freeAddr(t)
	cfg.APIKeys = auth.Config{Keys: []auth.KeyConfig{
		{Key: productKey, Product: "my-bot"},
		{Key: dashboardKey},
	}}
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	r, err := NewFactory().CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return "http://" + cfg.NetAddr.Endpoint + "/v1/events"
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func post(t *testing.T, url string, body []byte, headers map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &a.body), "body %s", raw)
	return a
}

func errCode(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func batch(events ...string) []byte {
	return []byte(`{"events":[` + strings.Join(events, ",") + `]}`)
}

func msg(id, ts string) string {
	return fmt.Sprintf(`{"event_id":%q,"session_id":"s1","event_type":"message.user","timestamp":%q,"user_id":"u1","properties":{"content_length":12}}`, id, ts)
}

func records(sink *consumertest.LogsSink) []event.Event {
	var out []event.Event
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, event.FromLogRecord(rl.Resource(), lrs.At(k)))
				}
			}
		}
	}
	return out
}

func TestIngestAcceptsAndRejectsPerEvent(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startReceiver(t, sink, nil)
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)

	a := post(t, url, batch(msg("e1", ts), `{"event_id":"e2","event_type":"message.user","user_id":"u1","timestamp":"yesterday"}`, msg("e3", ts)),
		map[string]string{"X-API-Key": productKey})
	require.Equal(t, http.StatusAccepted, a.status)
	assert.EqualValues(t, 2, a.body["accepted"])
	rejected := a.body["rejected"].([]any)
	require.Len(t, rejected, 1)
	r0 := rejected[0].(map[string]any)
	assert.EqualValues(t, 1, r0["index"])
	assert.Equal(t, "e2", r0["event_id"])
	assert.Contains(t, r0["error"], "timestamp")

	got := records(sink)
	require.Len(t, got, 2)
	assert.Equal(t, []string{"e1", "e3"}, []string{got[0].EventID, got[1].EventID})
	assert.Equal(t, "my-bot", got[0].ProductID, "the product comes from the key")
	assert.Equal(t, int64(12), got[0].Properties["content_length"])
}

func TestIngestErrors(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startReceiver(t, sink, func(c *Config) { c.MaxRequestBytes = 2048; c.MaxEventsPerRequest = 3 })
	ts := time.Now().UTC().Format(time.RFC3339)
	valid := batch(msg("e1", ts))

	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		status  int
		code    string
	}{
		{"no key", valid, nil, 401, "unauthorized"},
		{"unknown key", valid, map[string]string{"X-API-Key": "ap_prod_nope"}, 401, "unauthorized"},
		{"dashboard key", valid, map[string]string{"X-API-Key": dashboardKey}, 403, "forbidden"},
		{"other product", batch(`{"event_id":"x","event_type":"message.user","timestamp":"` + ts + `","user_id":"u","product_id":"other-bot"}`),
			map[string]string{"X-API-Key": productKey}, 403, "forbidden"},
		{"not json", []byte("hello"), map[string]string{"X-API-Key": productKey}, 400, "invalid_request"},
		{"no valid event", batch(`{"event_id":"x"}`), map[string]string{"X-API-Key": productKey}, 400, "invalid_request"},
		{"form body", valid, map[string]string{"X-API-Key": productKey, "Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"brotli", valid, map[string]string{"X-API-Key": productKey, "Content-Encoding": "br"}, 415, "unsupported_media_type"},
		{"too many events", batch(msg("a", ts), msg("b", ts), msg("c", ts), msg("d", ts)), map[string]string{"X-API-Key": productKey}, 413, "payload_too_large"},
		{"too large", batch(msg(strings.Repeat("x", 1000), ts), msg(strings.Repeat("y", 1000), ts)), map[string]string{"X-API-Key": productKey}, 413, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, url, tt.body, tt.headers)
			assert.Equal(t, tt.status, a.status)
			assert.Equal(t, tt.code, errCode(a), "body %v", a.body)
			assert.NotEmpty(t, a.body["error"].(map[string]any)["message"])
		})
	}
	assert.Empty(t, records(sink), "nothing of a refused request is stored")

	// Bearer is accepted like X-API-Key, and an empty batch is a 202.
	a := post(t, url, batch(), map[string]string{"Authorization": "Bearer " + productKey})
	assert.Equal(t, http.StatusAccepted, a.status)
	assert.EqualValues(t, 0, a.body["accepted"])
}

func TestIngestGzip(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startReceiver(t, sink, func(c *Config) { c.MaxRequestBytes = 4096 })
	ts := time.Now().UTC().Format(time.RFC3339)

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write(batch(msg("g1", ts), msg("g2", ts)))
	require.NoError(t, gz.Close())
	a := post(t, url, buf.Bytes(), map[string]string{"X-API-Key": productKey, "Content-Encoding": "gzip"})
	require.Equal(t, http.StatusAccepted, a.status, "%v", a.body)
	assert.EqualValues(t, 2, a.body["accepted"])
	assert.Len(t, records(sink), 2)

	// A small gzip body that expands past the limit is refused whole.
	buf.Reset()
	gz = gzip.NewWriter(&buf)
	_, _ = gz.Write(batch(msg(strings.Repeat("z", 1000), ts), msg(strings.Repeat("w", 1000), ts), msg(strings.Repeat("v", 1000), ts), msg(strings.Repeat("u", 1000), ts)))
	require.NoError(t, gz.Close())
	require.Less(t, buf.Len(), 4096)
	a = post(t, url, buf.Bytes(), map[string]string{"X-API-Key": productKey, "Content-Encoding": "gzip"})
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	assert.Len(t, records(sink), 2)

	// A body that is not gzip, or a gzip stream cut short, is a 400 that
	// says the body does not match its Content-Encoding.
	buf.Reset()
	gz = gzip.NewWriter(&buf)
	_, _ = gz.Write(batch(msg("g3", ts)))
	require.NoError(t, gz.Close())
	for _, body := range [][]byte{[]byte("not gzip at all"), buf.Bytes()[:buf.Len()/2]} {
		a = post(t, url, body, map[string]string{"X-API-Key": productKey, "Content-Encoding": "gzip"})
		assert.Equal(t, http.StatusBadRequest, a.status)
		assert.Equal(t, "invalid_request", errCode(a))
		e, _ := a.body["error"].(map[string]any)
		assert.Contains(t, e["message"], "the body is not valid gzip, as its Content-Encoding says", "%v", a.body)
	}
	assert.Len(t, records(sink), 2)
}

type failingConsumer struct{ err error }

func (f failingConsumer) ConsumeLogs(context.Context, plog.Logs) error { return f.err }

func (failingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func TestIngestOverloadedAnswers503WithRetryAfter(t *testing.T) {
	url := startReceiver(t, failingConsumer{err: errors.New("memory limit reached")}, nil)
	a := post(t, url, batch(msg("e1", time.Now().UTC().Format(time.RFC3339))), map[string]string{"X-API-Key": productKey})
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	assert.Equal(t, "overloaded", errCode(a))
	assert.Equal(t, "1", a.header.Get("Retry-After"))
}

func TestConfigValidate(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxEventsPerRequest = 0
	cfg.MaxStringBytes = 1
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"endpoint: required unless server names an agentpulse_query extension",
		"api_keys: at least one key is required unless server is set",
		"max_events_per_request: must be at least 1, got 0",
		"max_string_bytes: must be at least 64, got 1",
	} {
		assert.ErrorContains(t, err, want)
	}
}
