package queryapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errorAnswer is the contract's error envelope.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, s)
	})
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorAnswer {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var e errorAnswer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
	return e
}

func TestRouterMountAndUnmount(t *testing.T) {
	rt := newRouter()

	rec := serve(rt, http.MethodGet, "/v1/things")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, "not_found", decodeError(t, rec).Error.Code)

	unmount, err := rt.mount("GET /v1/things", text("things"))
	require.NoError(t, err)
	rec = serve(rt, http.MethodGet, "/v1/things")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "things", rec.Body.String())

	unmount()
	unmount() // a second call does nothing
	rec = serve(rt, http.MethodGet, "/v1/things")
	assert.Equal(t, http.StatusNotFound, rec.Code)

	// The pattern is free again.
	_, err = rt.mount("GET /v1/things", text("again"))
	require.NoError(t, err)
	assert.Equal(t, "again", serve(rt, http.MethodGet, "/v1/things").Body.String())
}

func TestRouterRejectsBadMounts(t *testing.T) {
	rt := newRouter()
	_, err := rt.mount("GET /v1/things", text("first"))
	require.NoError(t, err)

	_, err = rt.mount("GET /v1/things", text("second"))
	require.ErrorContains(t, err, `failed to mount "GET /v1/things"`)
	_, err = rt.mount("/", text("root"))
	require.ErrorContains(t, err, `failed to mount "/"`)
	_, err = rt.mount("GET /v1/{", text("bad"))
	require.Error(t, err)
	_, err = rt.mount("GET /v1/nil", nil)
	require.ErrorContains(t, err, "nil")

	// A failed mount leaves the routes as they were.
	assert.Equal(t, "first", serve(rt, http.MethodGet, "/v1/things").Body.String())
	assert.Equal(t, http.StatusNotFound, serve(rt, http.MethodGet, "/v1/nil").Code)
}

func TestRouterMethodNotAllowed(t *testing.T) {
	rt := newRouter()
	_, err := rt.mount("GET /v1/items/{id}", text("item"))
	require.NoError(t, err)
	_, err = rt.mount("POST /v1/items/{id}", text("posted"))
	require.NoError(t, err)

	rec := serve(rt, http.MethodDelete, "/v1/items/7")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD, POST", rec.Header().Get("Allow"))
	e := decodeError(t, rec)
	assert.Equal(t, "method_not_allowed", e.Error.Code)
	assert.Contains(t, e.Error.Message, "DELETE")

	// HEAD is served by the GET route.
	assert.Equal(t, http.StatusOK, serve(rt, http.MethodHead, "/v1/items/7").Code)
	// An empty segment does not match the wildcard.
	assert.Equal(t, http.StatusNotFound, serve(rt, http.MethodGet, "/v1/items/").Code)
	assert.Equal(t, http.StatusNotFound, serve(rt, http.MethodDelete, "/v1/elsewhere").Code)
}

func TestRouterConcurrentMounts(t *testing.T) {
	rt := newRouter()
	paths := []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"}

	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Go(func() {
			for range 20 {
				unmount, err := rt.mount("GET "+p, text(p))
				assert.NoError(t, err)
				assert.Equal(t, p, serve(rt, http.MethodGet, p).Body.String())
				unmount()
			}
			_, err := rt.mount("GET "+p, text(strings.ToUpper(p)))
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	for _, p := range paths {
		assert.Equal(t, strings.ToUpper(p), serve(rt, http.MethodGet, p).Body.String())
	}
}
