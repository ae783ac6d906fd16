package queryapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/apiserver"
	"github.com/agentpulse/agentpulse/internal/auth"
)

// queryExtension serves the query API and shares its listener.
type queryExtension struct {
	cfg      *Config
	settings extension.Settings
	routes   *router

	keys    atomic.Pointer[auth.Store]
	store   store
	server  *http.Server
	addr    net.Addr // where the listener is bound, once started
	unmount []func()
	serving sync.WaitGroup
	// ready turns true once the collector has started every pipeline, so
	// that /healthz does not answer before the ingest routes are mounted.
	ready atomic.Bool
	// banner holds the generated development keys until Ready shows them.
	banner bytes.Buffer
}

var (
	_ extension.Extension                   = (*queryExtension)(nil)
	_ apiserver.Server                      = (*queryExtension)(nil)
	_ extensioncapabilities.PipelineWatcher = (*queryExtension)(nil)
)

// Ready is called by the collector once every pipeline has started.
func (e *queryExtension) Ready() error {
	e.ready.Store(true)
	if e.banner.Len() > 0 {
		_, _ = e.banner.WriteTo(os.Stderr)
	}
	return nil
}

// NotReady is called by the collector before it stops the pipelines.
func (e *queryExtension) NotReady() error {
	e.ready.Store(false)
	return nil
}

func newQueryExtension(cfg *Config, set extension.Settings) *queryExtension {
	return &queryExtension{cfg: cfg, settings: set, routes: newRouter()}
}

// Mount serves h at pattern on the extension's listener until the returned
// function is called. Routes may be mounted before or after Start.
func (e *queryExtension) Mount(pattern string, h http.Handler) (func(), error) {
	return e.routes.mount(pattern, h)
}

// Keys is the extension's key set; it is nil until Start has run.
func (e *queryExtension) Keys() *auth.Store {
	return e.keys.Load()
}

// Start loads the keys, opens the store and starts serving. When it fails,
// what it had opened is closed again.
func (e *queryExtension) Start(ctx context.Context, host component.Host) (err error) {
	// Generated development keys are shown once the collector has started,
	// after its start-up log, where they are easy to see.
	keys, err := auth.New(e.cfg.APIKeys, &e.banner)
	if err != nil {
		return fmt.Errorf("api_keys: %w", err)
	}
	e.keys.Store(keys)
	defer func() {
		if err != nil {
			_ = e.Shutdown(ctx)
		}
	}()

	st, err := openStore(ctx, e.cfg.Storage, e.settings.Logger)
	if err != nil {
		return fmt.Errorf("failed to open the store: %w", err)
	}
	e.store = st
	a := &api{
		store:   e.store,
		keys:    keys,
		cfg:     e.cfg,
		logger:  e.settings.Logger,
		timeout: e.cfg.QueryTimeout,
		now:     time.Now,
		ready:   &e.ready,
	}
	for pattern, h := range a.routes() {
		unmount, err := e.routes.mount(pattern, h)
		if err != nil {
			return err
		}
		e.unmount = append(e.unmount, unmount)
	}

	ln, err := e.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", e.cfg.NetAddr.Endpoint, err)
	}
	server, err := e.cfg.ToServer(ctx, host.GetExtensions(), e.settings.TelemetrySettings, e.routes,
		confighttp.WithErrorHandler(apiserver.MiddlewareErrorHandler))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("failed to create the HTTP server: %w", err)
	}
	// Ingest mounted on this port reads bodies through the middleware's
	// decompression too.
	server.Handler = apiserver.KeepContentEncoding(server.Handler)

	e.server = server
	e.addr = ln.Addr()
	e.settings.Logger.Info("Listening", zap.String("endpoint", ln.Addr().String()))
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()

	return nil
}

// Shutdown stops serving, waiting for requests in flight until ctx ends, and
// closes the store. It is safe to call without Start and more than once.
func (e *queryExtension) Shutdown(ctx context.Context) error {
	var errs []error
	if e.server != nil {
		if err := e.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop the HTTP server: %w", err))
			_ = e.server.Close()
		}
		e.serving.Wait()
		e.server = nil
	}
	for _, unmount := range e.unmount {
		unmount()
	}
	e.unmount = nil
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to close the store: %w", err))
		}
		e.store = nil
	}

	return errors.Join(errs...)
}
