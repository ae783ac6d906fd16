package queryapi

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/agentpulse/agentpulse/internal/apiserver"
)

// probeMethods are the methods tried to tell an unknown path (404) from a
// known path asked with the wrong method (405).
var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// fallbackPattern catches every request that no mounted route takes.
const fallbackPattern = "/"

type route struct {
	pattern string
	handler http.Handler
}

// router is a ServeMux whose routes can be added and removed while it
// serves: every change builds a new mux, swapped in atomically, so requests
// in flight keep the mux they started with.
type router struct {
	mu     sync.Mutex
	routes map[uint64]route
	nextID uint64
	mux    atomic.Pointer[http.ServeMux]
}

func newRouter() *router {
	rt := &router{routes: map[uint64]route{}}
	mux, _ := buildMux(nil)
	rt.mux.Store(mux)
	return rt
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mux.Load().ServeHTTP(w, r)
}

// mount serves h at pattern until the returned function is called. A
// pattern that is malformed or conflicts with a mounted one is an error.
func (rt *router) mount(pattern string, h http.Handler) (func(), error) {
	if h == nil {
		return nil, fmt.Errorf("failed to mount %q: the handler is nil", pattern)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()

	id := rt.nextID
	rt.routes[id] = route{pattern: pattern, handler: h}
	mux, err := buildMux(rt.routes)
	if err != nil {
		delete(rt.routes, id)
		return nil, fmt.Errorf("failed to mount %q: %w", pattern, err)
	}
	rt.nextID++
	rt.mux.Store(mux)

	var once sync.Once
	unmount := func() {
		once.Do(func() { rt.unmount(id) })
	}
	return unmount, nil
}

func (rt *router) unmount(id uint64) {
	rt.mu.Lock()
	defer rt.mu.Unlock()

	delete(rt.routes, id)
	// Removing a route cannot create a conflict, so building cannot fail.
	mux, _ := buildMux(rt.routes)
	rt.mux.Store(mux)
}

// buildMux registers routes and the JSON fallback on a new mux. ServeMux
// panics on a bad or conflicting pattern; that panic becomes the error.
func buildMux(routes map[uint64]route) (mux *http.ServeMux, err error) {
	defer func() {
		if p := recover(); p != nil {
			mux, err = nil, fmt.Errorf("%v", p)
		}
	}()

	mux = http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r.pattern, r.handler)
	}
	mux.HandleFunc(fallbackPattern, func(w http.ResponseWriter, r *http.Request) {
		unrouted(mux, w, r)
	})

	return mux, nil
}

// unrouted answers a request that no route took: 405 when the path is served
// with other methods, else 404, both in the JSON error envelope.
func unrouted(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := new(http.Request)
		*probe = *r
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != fallbackPattern {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		apiserver.WriteError(w, http.StatusMethodNotAllowed, apiserver.CodeMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
		return
	}

	apiserver.WriteError(w, http.StatusNotFound, apiserver.CodeNotFound,
		fmt.Sprintf("no endpoint at %s", r.URL.Path))
}
