package queryapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/apiserver"
	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/queryapi/internal/metadata"
	"github.com/agentpulse/agentpulse/receiver/agentpulsereceiver"
)

// queryPaths are the query endpoints, one request each.
var queryPaths = []string{"/v1/funnel", "/v1/sessions", "/v1/sessions/s1", "/v1/economics", "/v1/topics"}

func TestAuthentication(t *testing.T) {
	_, base := startExtension(t, newTestConfig(t), nil)

	tests := []struct {
		name    string
		key     string
		headers map[string]string
		query   string
		status  int // of the endpoints other than /v1/sessions/s1, which is 404 once allowed
		code    string
		message string
	}{
		{name: "missing key", status: 401, code: "unauthorized", message: "missing API key"},
		{name: "unknown key", key: "ap_prod_nosuchkey0123456789", status: 401, code: "unauthorized", message: "unknown API key"},
		{name: "empty bearer", headers: map[string]string{"Authorization": "Bearer "}, status: 401, code: "unauthorized"},
		{name: "basic auth is not a key", headers: map[string]string{"Authorization": "Basic " + legalKey}, status: 401, code: "unauthorized"},
		{name: "product key", key: legalKey, status: 200},
		{name: "product key as bearer", headers: map[string]string{"Authorization": "Bearer " + legalKey}, status: 200},
		{name: "product key naming its product", key: legalKey, query: "product_id=legal-bot", status: 200},
		{
			name: "product key naming another product", key: legalKey, query: "product_id=other-bot",
			status: 403, code: "forbidden", message: `"other-bot"`,
		},
		{
			name: "dashboard key without product_id", key: acmeDashKey,
			status: 400, code: "invalid_parameter", message: "product_id: required with a dashboard key",
		},
		{name: "dashboard key with a product of its organization", key: acmeDashKey, query: "product_id=legal-bot", status: 200},
		{
			name: "dashboard key with a product of another organization", key: acmeDashKey, query: "product_id=rival-bot",
			status: 403, code: "forbidden", message: `"rival-bot"`,
		},
		{
			name: "dashboard key with an unknown product", key: acmeDashKey, query: "product_id=ghost-bot",
			status: 403, code: "forbidden",
		},
		{
			name: "other organization's dashboard key", key: rivalDashKey, query: "product_id=legal-bot",
			status: 403, code: "forbidden",
		},
		{name: "other organization's product key", key: rivalKey, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range queryPaths {
				target := path
				if tt.query != "" {
					target += "?" + tt.query
				}
				r := do(t, base, request{path: target, key: tt.key, headers: tt.headers})
				status, code := tt.status, tt.code
				if status == http.StatusOK && path == "/v1/sessions/s1" {
					status, code = http.StatusNotFound, "not_found"
				}
				if status == http.StatusOK {
					assert.Equal(t, status, r.status, "%s: %s", path, r.body)
					continue
				}
				parts := []string{}
				if tt.message != "" && code == tt.code {
					parts = append(parts, tt.message)
				}
				assertError(t, r, status, code, parts...)
				assert.NotContains(t, string(r.body), "ap_", "%s: an answer never echoes a key", path)
			}
		})
	}
}

func TestParameterErrors(t *testing.T) {
	_, base := startExtension(t, newTestConfig(t), nil)

	tests := []struct {
		path    string
		message string
	}{
		{path: "/v1/funnel?from=yesterday", message: `from: got "yesterday", accepted values are an RFC3339 time`},
		{path: "/v1/economics?to=2025-02-30", message: `to: got "2025-02-30"`},
		{path: "/v1/topics?from=2025-05-02&to=2025-04-30", message: "from: 2025-05-02T00:00:00Z is after to (2025-05-01T00:00:00Z)"},
		{path: "/v1/economics?from=2025-05-01T00:00:00.001Z&to=2025-05-01T00:00:00Z", message: "from: 2025-05-01T00:00:00.001Z is after to"},
		{path: "/v1/sessions?from=2025-05-01T10:00:00+09:00&to=2025-05-01T00:00:00Z", message: "from: 2025-05-01T01:00:00Z is after to"},
		{path: "/v1/sessions?from=2025-05-01T10:00:00", message: "from: "},
		{path: "/v1/sessions?limit=0", message: `limit: got "0", accepted values are integers from 1 to 1000`},
		{path: "/v1/sessions?limit=1001", message: `limit: got "1001"`},
		{path: "/v1/sessions?limit=abc", message: `limit: got "abc"`},
		{path: "/v1/sessions?offset=-1", message: `offset: got "-1", accepted values are integers from 0`},
		{path: "/v1/sessions?offset=1.5", message: `offset: got "1.5"`},
		{path: "/v1/topics?limit=5000", message: `limit: got "5000"`},
		{path: "/v1/topics?limit=-1", message: `limit: got "-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := do(t, base, request{path: tt.path, key: legalKey})
			assertError(t, r, http.StatusBadRequest, "invalid_parameter", tt.message)
		})
	}

	// A parameter an endpoint does not read is refused, so a filter it does
	// not apply is never taken for one it applied; the message names the
	// first such parameter and lists the endpoint's own.
	unknown := []struct {
		path, message string
	}{
		{"/v1/funnel?limit=0&offset=-1&colour=blue", "colour, limit, offset: not parameters of this endpoint; accepted parameters are product_id, from, to, topic"},
		{"/v1/economics?user_id=u1", "user_id: not a parameter of this endpoint; accepted parameters are product_id, from, to, topic"},
		{"/v1/topics?offset=-3", "offset: not a parameter of this endpoint; accepted parameters are product_id, from, to, topic, limit"},
		{"/v1/sessions?cursor=abc", "cursor: not a parameter of this endpoint; accepted parameters are product_id, from, to, topic, outcome, user_id, limit, offset"},
		{"/v1/sessions/s1?from=yesterday", "from: not a parameter of this endpoint; accepted parameters are product_id"},
		{"/v1/sessions?From=2025-05-01", "From: not a parameter"},
		{"/v1/topics?foo=1&bar=2&limit=3", "bar, foo: not parameters of this endpoint; accepted parameters are product_id, from, to, topic, limit"},
		{"/v1/funnel?=x", `"": not a parameter of this endpoint`},
	}
	for _, tt := range unknown {
		r := do(t, base, request{path: tt.path, key: legalKey})
		assertError(t, r, http.StatusBadRequest, "invalid_parameter", tt.message)
	}

	// A query string that is not URL encoding is refused whole, rather than
	// read without the parameter it garbles.
	for _, path := range []string{"/v1/sessions?from=%ZZ", "/v1/funnel?topic=a%", "/v1/sessions/s1?product_id=%zz"} {
		r := do(t, base, request{path: path, key: legalKey})
		assertError(t, r, http.StatusBadRequest, "invalid_parameter", "query string: invalid URL escape")
	}

	// Filter values longer than any stored value are refused with their
	// bound, one byte past it; at the bound they are a plain filter.
	long := []struct {
		param string
		max   int
	}{{"topic", 4096}, {"outcome", 4096}, {"user_id", 1024}}
	for _, tt := range long {
		at := "/v1/sessions?" + tt.param + "=" + strings.Repeat("%27", tt.max)
		got := get(t, base, at, legalKey)
		assertJSON(t, map[string]any{"sessions": []any{}, "total": 0, "limit": 50, "offset": 0}, got)
		r := do(t, base, request{path: at + "%27", key: legalKey})
		assertError(t, r, http.StatusBadRequest, "invalid_parameter",
			fmt.Sprintf("%s: %d bytes long, accepted values are at most %d bytes", tt.param, tt.max+1, tt.max))
	}
	for _, path := range []string{"/v1/funnel", "/v1/economics", "/v1/topics"} {
		assert.Equal(t, http.StatusOK, do(t, base, request{path: path + "?topic=" + strings.Repeat("%27", 4096), key: legalKey}).status, path)
	}
	r := do(t, base, request{path: "/v1/sessions/" + strings.Repeat("s", 1024), key: legalKey})
	assertError(t, r, http.StatusNotFound, "not_found")
	r = do(t, base, request{path: "/v1/sessions/" + strings.Repeat("s", 1025), key: legalKey})
	assertError(t, r, http.StatusBadRequest, "invalid_parameter", "session id: 1025 bytes long, accepted values are at most 1024 bytes")

	// The largest offsets are pages past the end, not errors.
	for _, offset := range []int64{math.MaxInt64, math.MaxInt64 - 49} {
		got := get(t, base, fmt.Sprintf("/v1/sessions?offset=%d", offset), legalKey)
		assertJSON(t, map[string]any{"sessions": []any{}, "total": 0, "limit": 50, "offset": offset}, got)
		assert.Contains(t, string(got), fmt.Sprintf(`"offset":%d`, offset))
	}
	r = do(t, base, request{path: "/v1/sessions?offset=9223372036854775808", key: legalKey})
	assertError(t, r, http.StatusBadRequest, "invalid_parameter", `offset: got "9223372036854775808", accepted values are integers from 0 to 9223372036854775807`)
}

func TestRouting(t *testing.T) {
	ext, base := startExtension(t, newTestConfig(t), nil)

	r := do(t, base, request{path: "/healthz"})
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "not ready before the pipelines have started")
	assert.JSONEq(t, `{"status":"starting"}`, string(r.body))
	require.NoError(t, ext.Ready())
	r = do(t, base, request{path: "/healthz"})
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(r.body))

	for _, path := range []string{"/", "/v1", "/v1/nothing", "/v1/sessions/", "/v1/sessions/s1/events", "/v2/funnel"} {
		r := do(t, base, request{path: path, key: legalKey})
		assertError(t, r, http.StatusNotFound, "not_found")
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, path := range append([]string{"/healthz"}, queryPaths...) {
			r := do(t, base, request{method: method, path: path, key: legalKey, body: "{}"})
			assertError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", method)
			assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
		}
	}
	r = do(t, base, request{method: http.MethodHead, path: "/v1/funnel", key: legalKey})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
}

func TestStorageFailureAnswers503(t *testing.T) {
	ext, base := startExtension(t, newTestConfig(t), nil)
	require.Equal(t, http.StatusOK, do(t, base, request{path: "/v1/funnel", key: legalKey}).status)

	// The store goes away under the running server.
	require.NoError(t, ext.store.Close())
	for _, path := range queryPaths {
		r := do(t, base, request{path: path, key: legalKey})
		assertError(t, r, http.StatusServiceUnavailable, "overloaded", "retry later")
		assert.Equal(t, "5", r.header.Get("Retry-After"))
		for _, sql := range []string{"SELECT", "FROM", "events", "store is closed"} {
			assert.NotContains(t, string(r.body), sql, "%s: the answer must not leak the store's error", path)
		}
	}
}

func TestConcurrentQueries(t *testing.T) {
	cfg := newTestConfig(t)
	_, base := startExtension(t, cfg, nil)
	insertDataset(t, cfg, dataset(time.Now()))

	want := get(t, base, "/v1/economics?from=2025-03-10&to=2025-03-11", legalKey)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			path := queryPaths[i%len(queryPaths)]
			if path == "/v1/sessions/s1" {
				r := do(t, base, request{path: path, key: legalKey})
				assert.Equal(t, http.StatusOK, r.status)
				return
			}
			got := do(t, base, request{path: "/v1/economics?from=2025-03-10&to=2025-03-11", key: legalKey})
			assert.JSONEq(t, string(want), string(got.body))
		})
	}
	wg.Wait()
}

// testHost is a collector host with extensions, for components that find
// the query extension through it.
type testHost struct {
	component.Host
	extensions map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component {
	return h.extensions
}

// echoComponent mounts POST /v1/echo on the shared server, answering with
// the product of the request's key.
type echoComponent struct {
	server  component.ID
	unmount func()
}

func (c *echoComponent) Start(_ context.Context, host component.Host) error {
	srv, err := apiserver.Find(host, c.server)
	if err != nil {
		return err
	}
	keys := srv.Keys()
	c.unmount, err = srv.Mount("POST /v1/echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := keys.Authenticate(r)
		if err != nil {
			apiserver.WriteAuthError(w, err)
			return
		}
		apiserver.WriteJSON(w, http.StatusOK, map[string]string{"product": p.Product})
	}))
	return err
}

func (c *echoComponent) Shutdown(context.Context) error {
	if c.unmount != nil {
		c.unmount()
	}
	return nil
}

func TestSharedListener(t *testing.T) {
	id := component.NewID(metadata.Type)
	host := &testHost{Host: componenttest.NewNopHost(), extensions: map[component.ID]component.Component{}}
	ext, base := startExtension(t, newTestConfig(t), host)
	host.extensions[id] = ext

	echo := &echoComponent{server: id}
	require.NoError(t, echo.Start(t.Context(), host))

	r := do(t, base, request{method: http.MethodPost, path: "/v1/echo", key: otherKey})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.JSONEq(t, `{"product":"other-bot"}`, string(r.body))
	assertError(t, do(t, base, request{method: http.MethodPost, path: "/v1/echo"}), http.StatusUnauthorized, "unauthorized")
	r = do(t, base, request{path: "/v1/echo", key: otherKey})
	assertError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "POST", r.header.Get("Allow"))
	// The query routes still answer beside it.
	assert.Equal(t, http.StatusOK, do(t, base, request{path: "/v1/topics", key: otherKey}).status)

	// A second mount of the same route is refused; after shutdown it is gone.
	second := &echoComponent{server: id}
	require.ErrorContains(t, second.Start(t.Context(), host), `failed to mount "POST /v1/echo"`)
	require.NoError(t, echo.Shutdown(t.Context()))
	assertError(t, do(t, base, request{method: http.MethodPost, path: "/v1/echo", key: otherKey}), http.StatusNotFound, "not_found")

	// Find names the problem when the id is not this extension.
	_, err := apiserver.Find(host, component.MustNewIDWithName("agentpulse_query", "missing"))
	require.ErrorContains(t, err, "is not configured")
}

func TestSharedWithReceiver(t *testing.T) {
	id := component.NewID(metadata.Type)
	host := &testHost{Host: componenttest.NewNopHost(), extensions: map[component.ID]component.Component{}}
	ext, base := startExtension(t, newTestConfig(t), host)
	host.extensions[id] = ext

	factory := agentpulsereceiver.NewFactory()
	rcfg := factory.CreateDefaultConfig().(*agentpulsereceiver.Config)
	rcfg.Server = &id
	sink := new(consumertest.LogsSink)
	rcv, err := factory.CreateLogs(t.Context(), receivertest.NewNopSettings(factory.Type()), rcfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), host))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()

	body := `{"events":[{"event_id":"e1","session_id":"s1","event_type":"message.user",` +
		`"timestamp":"2025-03-10T09:00:00Z","user_id":"u1"}]}`
	r := do(t, base, request{method: http.MethodPost, path: "/v1/events", key: legalKey,
		headers: map[string]string{"Content-Type": "application/json"}, body: body})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	var accepted struct {
		Accepted int `json:"accepted"`
	}
	require.NoError(t, json.Unmarshal(r.body, &accepted))
	assert.Equal(t, 1, accepted.Accepted)
	assert.Equal(t, 1, sink.LogRecordCount())

	// The receiver uses the extension's keys: a dashboard key cannot ingest.
	r = do(t, base, request{method: http.MethodPost, path: "/v1/events", key: acmeDashKey, body: body})
	assertError(t, r, http.StatusForbidden, "forbidden")
	assert.Equal(t, 1, sink.LogRecordCount())
}

func TestStartFailuresCloseWhatWasOpened(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	cfg := newTestConfig(t)
	cfg.NetAddr.Endpoint = busy.Addr().String()
	ext, err := NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(t.Context(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "failed to listen on "+busy.Addr().String())
	qe := ext.(*queryExtension)
	assert.Nil(t, qe.store, "the store is closed again")
	assert.Empty(t, qe.routes.routes, "the routes are unmounted again")
	require.NoError(t, ext.Shutdown(t.Context()))

	// The embedded engine holds one directory per process.
	cfg = newTestConfig(t)
	cfg.Storage.Path = t.TempDir()
	ext, err = NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(t.Context(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "failed to open the store")
	require.NoError(t, ext.Shutdown(t.Context()))

	cfg = newTestConfig(t)
	cfg.APIKeys = auth.Config{Keys: []auth.KeyConfig{{Product: "my-bot"}}, DevKeysDir: "/proc/no-such-dir"}
	ext, err = NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.ErrorContains(t, ext.Start(t.Context(), componenttest.NewNopHost()), "api_keys: ")
	require.NoError(t, ext.Shutdown(t.Context()))
}

func TestShutdownWithoutStart(t *testing.T) {
	ext, err := NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), newTestConfig(t))
	require.NoError(t, err)
	require.NoError(t, ext.Shutdown(t.Context()))
	require.NoError(t, ext.Shutdown(t.Context()))
	assert.Nil(t, ext.(apiserver.Server).Keys())
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "agentpulse_query", f.Type().String())
	assert.Equal(t, component.StabilityLevelDevelopment, f.Stability())
}

func TestCORS(t *testing.T) {
	const origin = "https://dashboard.example.com"
	cfg := newTestConfig(t)
	cors := confighttp.NewDefaultCORSConfig()
	cors.AllowedOrigins = []string{origin}
	cors.AllowedHeaders = []string{"X-API-Key", "Authorization"}
	cfg.CORS = configoptional.Some(cors)
	_, base := startExtension(t, cfg, nil)

	// The browser's preflight is answered before authentication.
	r := do(t, base, request{method: http.MethodOptions, path: "/v1/funnel", headers: map[string]string{
		"Origin":                         origin,
		"Access-Control-Request-Method":  http.MethodGet,
		"Access-Control-Request-Headers": "x-api-key",
	}})
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "x-api-key")

	r = do(t, base, request{path: "/v1/funnel", key: legalKey, headers: map[string]string{"Origin": origin}})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))

	r = do(t, base, request{path: "/v1/funnel", key: legalKey, headers: map[string]string{"Origin": "https://evil.example"}})
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
}

func TestStoreErrorAnswers(t *testing.T) {
	cfg := newTestConfig(t)
	st, err := chstore.Open(t.Context(), cfg.Storage, zap.NewNop())
	require.NoError(t, err)
	defer st.Close()
	// An event without ids can never be stored: the store calls that
	// permanent.
	permanent := st.Insert(t.Context(), []event.Event{{EventID: "e1", EventType: "message.user"}})
	require.True(t, chstore.IsPermanent(permanent))

	a := &api{logger: zap.NewNop(), timeout: 3 * time.Second}
	answer := func(err error) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		a.writeStoreError(rec, httptest.NewRequest(http.MethodGet, "/v1/funnel", nil), err)
		return rec
	}

	rec := answer(fmt.Errorf("failed to compute the funnel: %w", permanent))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Empty(t, rec.Header().Get("Retry-After"))
	e := decodeError(t, rec)
	assert.Equal(t, "internal", e.Error.Code)
	assert.NotContains(t, e.Error.Message, "session_id")

	rec = answer(fmt.Errorf("failed to list sessions: %w", context.DeadlineExceeded))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	e = decodeError(t, rec)
	assert.Equal(t, "overloaded", e.Error.Code)
	assert.Equal(t, "the query took longer than query_timeout (3s); narrow the period or retry later", e.Error.Message)
}
