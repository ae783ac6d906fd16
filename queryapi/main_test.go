package queryapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/internal/chstore/chstoretest"
	"github.com/agentpulse/agentpulse/queryapi/internal/metadata"
)

func TestMain(m *testing.M) {
	os.Exit(chstoretest.Main(m))
}

func storageFor(database string) chstore.Config {
	return chstoretest.Config(database)
}

// API keys of the tests: acme has legal-bot and other-bot, globex has
// rival-bot.
const (
	legalKey     = "ap_prod_legalbot0123456789abcdef"
	otherKey     = "ap_prod_otherbot0123456789abcdef"
	rivalKey     = "ap_prod_rivalbot0123456789abcdef"
	acmeDashKey  = "ap_dash_acme0123456789abcdef"
	rivalDashKey = "ap_dash_globex0123456789abcdef"
)

var dbCounter atomic.Int64

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// newTestConfig is a valid configuration on a fresh database named after
// the test, listening on a free loopback port.
func newTestConfig(t *testing.T) *Config {
	t.Helper()
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.APIKeys = auth.Config{Keys: []auth.KeyConfig{
		{Key: legalKey, Product: "legal-bot", Organization: "acme"},
		{Key: otherKey, Product: "other-bot", Organization: "acme"},
		{Key: rivalKey, Product: "rival-bot", Organization: "globex"},
		{Key: acmeDashKey, Organization: "acme"},
		{Key: rivalDashKey, Organization: "globex"},
	}}
	cfg.Storage = storageFor(fmt.Sprintf("q%d_%s", dbCounter.Add(1), name))
	require.NoError(t, cfg.Validate())
	return cfg
}

// startExtension creates and starts the extension through its factory and
// returns it with its base URL; it shuts down when the test ends. (The
// test databases go with the data directory at the end of the run.)
func startExtension(t *testing.T, cfg *Config, host component.Host) (*queryExtension, string) {
	t.Helper()
	if host == nil {
		host = componenttest.NewNopHost()
	}
	ext, err := NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(t.Context(), host))
	t.Cleanup(func() {
		require.NoError(t, ext.Shutdown(context.Background()))
	})
	qe := ext.(*queryExtension)
	return qe, "http://" + qe.addr.String()
}

// request is one HTTP request of a test.
type request struct {
	method  string
	path    string // with its raw query
	key     string // sent as X-API-Key
	headers map[string]string
	body    string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, base string, r request) response {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+r.path, body)
	require.NoError(t, err)
	if r.key != "" {
		req.Header.Set("X-API-Key", r.key)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get sends a GET with a key and requires 200.
func get(t *testing.T, base, path, key string) []byte {
	t.Helper()
	r := do(t, base, request{path: path, key: key})
	require.Equal(t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	return r.body
}

// assertError checks a non-2xx answer: status, the envelope with nothing
// else in it, its code, and a message containing each of parts.
func assertError(t *testing.T, r response, status int, code string, parts ...string) {
	t.Helper()
	assert.Equal(t, status, r.status, "%s", r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var env map[string]map[string]any
	require.NoError(t, json.Unmarshal(r.body, &env), "%s", r.body)
	require.Len(t, env, 1, "%s", r.body)
	e, ok := env["error"]
	require.True(t, ok, "%s", r.body)
	assert.Len(t, e, 2, "%s", r.body)
	assert.Equal(t, code, e["code"])
	msg, _ := e["message"].(string)
	assert.NotEmpty(t, msg)
	for _, p := range parts {
		assert.Contains(t, msg, p)
	}
}

// assertJSON compares a JSON answer with want as a whole: the same keys,
// lists of the same length and order, and numbers equal up to rounding of
// sums (relative 1e-9).
func assertJSON(t *testing.T, want any, got []byte) {
	t.Helper()
	b, err := json.Marshal(want)
	require.NoError(t, err)
	var w, g any
	require.NoError(t, json.Unmarshal(b, &w))
	require.NoError(t, json.Unmarshal(got, &g), "%s", got)
	var diffs []string
	compareJSON("$", w, g, &diffs)
	if len(diffs) > 0 {
		pretty := func(v any) string {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
			return buf.String()
		}
		t.Errorf("JSON differs:\n%s\nwant:\n%s\ngot:\n%s", strings.Join(diffs, "\n"), pretty(w), pretty(g))
	}
}

func compareJSON(path string, w, g any, diffs *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: want an object, got %v", path, g))
			return
		}
		keys := map[string]bool{}
		for k := range wv {
			keys[k] = true
		}
		for k := range gv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wk, inW := wv[k]
			gk, inG := gv[k]
			switch {
			case !inW:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected, got %v", path, k, gk))
			case !inG:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing, want %v", path, k, wk))
			default:
				compareJSON(path+"."+k, wk, gk, diffs)
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %d items, got %v", path, len(wv), g))
			return
		}
		for i := range wv {
			compareJSON(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i], diffs)
		}
	case float64:
		gv, ok := g.(float64)
		if !ok || math.Abs(wv-gv) > 1e-9*math.Max(1, math.Abs(wv)) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %v, got %v", path, wv, g))
		}
	default:
		if w != g {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %v, got %v", path, w, g))
		}
	}
}
