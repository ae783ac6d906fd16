package agentpulsereceiver

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/agentpulse/agentpulse/internal/apiserver"
	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/receiver/agentpulsereceiver/internal/metadata"
)

// retryAfterSeconds is what overloaded answers ask clients to wait.
const retryAfterSeconds = 1

// traceIdentityLimit bounds the traces whose session and user are kept for
// their log records (about 100 bytes each).
const traceIdentityLimit = 100_000

type agentpulseReceiver struct {
	cfg      *Config
	set      receiver.Settings
	next     consumer.Logs
	obsrecv  *receiverhelper.ObsReport
	keys     *auth.Store
	now      func() time.Time
	server   *http.Server
	unmount  []func()
	traces   *traceIdentities
	shutdown sync.WaitGroup
}

var _ receiver.Logs = (*agentpulseReceiver)(nil)

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*agentpulseReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &agentpulseReceiver{
		cfg: cfg, set: set, next: next, obsrecv: obsrecv, now: time.Now,
		traces: newTraceIdentities(traceIdentityLimit),
	}, nil
}

func (r *agentpulseReceiver) Start(ctx context.Context, host component.Host) error {
	if r.cfg.Server != nil {
		srv, err := apiserver.Find(host, *r.cfg.Server)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		r.keys = srv.Keys()
		for path, h := range r.routes() {
			unmount, err := srv.Mount(path, h)
			if err != nil {
				r.unmountAll()
				return fmt.Errorf("failed to mount %s: %w", path, err)
			}
			r.unmount = append(r.unmount, unmount)
		}
		r.set.Logger.Info("Serving ingest on the shared server", zap.String("server", r.cfg.Server.String()))
		return nil
	}

	keys, err := auth.New(r.cfg.APIKeys, os.Stderr)
	if err != nil {
		return fmt.Errorf("api_keys: %w", err)
	}
	r.keys = keys
	mux := http.NewServeMux()
	for path, h := range r.routes() {
		mux.Handle(path, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		apiserver.WriteError(w, http.StatusNotFound, apiserver.CodeNotFound, "no such path")
	})
	ln, err := r.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", r.cfg.NetAddr.Endpoint, err)
	}
	r.server, err = r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux,
		confighttp.WithErrorHandler(apiserver.MiddlewareErrorHandler))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("failed to create the HTTP server: %w", err)
	}
	r.server.Handler = apiserver.KeepContentEncoding(r.server.Handler)
	r.set.Logger.Info("Listening for AgentPulse events", zap.String("endpoint", ln.Addr().String()))
	r.shutdown.Add(1)
	go func() {
		defer r.shutdown.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// routes are the ingest paths: the SDK's events and OTLP/HTTP.
func (r *agentpulseReceiver) routes() map[string]http.Handler {
	return map[string]http.Handler{
		"/v1/events": http.HandlerFunc(r.handleEvents),
		"/v1/traces": http.HandlerFunc(r.handleTraces),
		"/v1/logs":   http.HandlerFunc(r.handleLogs),
	}
}

func (r *agentpulseReceiver) unmountAll() {
	for _, u := range r.unmount {
		u()
	}
	r.unmount = nil
}

func (r *agentpulseReceiver) Shutdown(ctx context.Context) error {
	r.unmountAll()
	var err error
	if r.server != nil {
		err = r.server.Shutdown(ctx)
	}
	r.shutdown.Wait()
	return err
}

// ingestRequest checks what every ingest route shares: the method, a
// product key, the content type and the body size. It answers the request
// itself and returns ok=false when the request cannot go on.
func (r *agentpulseReceiver) ingestRequest(w http.ResponseWriter, req *http.Request, mediaTypes ...string) (p auth.Principal, mediaType string, body []byte, ok bool) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		apiserver.WriteError(w, http.StatusMethodNotAllowed, apiserver.CodeMethodNotAllowed, "use POST for "+req.URL.Path)
		return p, "", nil, false
	}
	p, err := r.keys.Authenticate(req)
	if err != nil {
		apiserver.WriteAuthError(w, err)
		return p, "", nil, false
	}
	if p.Scope != auth.ScopeProduct {
		apiserver.WriteError(w, http.StatusForbidden, apiserver.CodeForbidden, "dashboard keys cannot ingest; use a product key")
		return p, "", nil, false
	}
	mediaType = mediaTypes[0]
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(mediaTypes, mt) {
			apiserver.WriteError(w, http.StatusUnsupportedMediaType, apiserver.CodeUnsupportedMediaType,
				fmt.Sprintf("Content-Type %q is not supported; send %s", ct, strings.Join(mediaTypes, " or ")))
			return p, "", nil, false
		}
		mediaType = mt
	}
	body, status, err := r.readBody(req)
	if err != nil {
		code := apiserver.CodeInvalidRequest
		switch status {
		case http.StatusRequestEntityTooLarge:
			code = apiserver.CodePayloadTooLarge
		case http.StatusUnsupportedMediaType:
			code = apiserver.CodeUnsupportedMediaType
		}
		apiserver.WriteError(w, status, code, err.Error())
		return p, "", nil, false
	}
	return p, mediaType, body, true
}

func (r *agentpulseReceiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	p, _, body, ok := r.ingestRequest(w, req, "application/json")
	if !ok {
		return
	}

	l := limits{maxEvents: r.cfg.MaxEventsPerRequest, maxFutureSkew: r.cfg.MaxFutureSkew, maxStringBytes: r.cfg.MaxStringBytes}
	events, rejected, err := decodeBatch(body, p.Product, r.now(), l)
	if err != nil {
		var reqErr *requestError
		if errors.As(err, &reqErr) {
			apiserver.WriteError(w, reqErr.status, reqErr.code, err.Error())
			return
		}
		apiserver.WriteError(w, http.StatusBadRequest, apiserver.CodeInvalidRequest, err.Error())
		return
	}
	if rejected == nil {
		rejected = []rejection{}
	}
	if len(events) == 0 && len(rejected) > 0 {
		apiserver.WriteJSON(w, http.StatusBadRequest, map[string]any{
			"error": map[string]string{
				"code":    apiserver.CodeInvalidRequest,
				"message": fmt.Sprintf("no valid event among %d; see rejected", len(rejected)),
			},
			"accepted": 0,
			"rejected": rejected,
		})
		return
	}

	if len(events) > 0 && !r.consume(w, req.Context(), p.Product, events) {
		return
	}
	r.set.Logger.Debug("Accepted events", zap.Int("accepted", len(events)), zap.Int("rejected", len(rejected)))
	apiserver.WriteJSON(w, http.StatusAccepted, map[string]any{"accepted": len(events), "rejected": rejected})
}

// readBody reads the request body, decompressing gzip when the shared
// middleware has not already done so, up to the configured limit.
func (r *agentpulseReceiver) readBody(req *http.Request) ([]byte, int, error) {
	var src io.Reader = req.Body
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			return nil, http.StatusBadRequest, errors.New(apiserver.BadEncoding(req, err.Error()))
		}
		defer gz.Close()
		src = gz
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q is not supported; send gzip or none", enc)
	}
	limit := r.cfg.MaxRequestBytes
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body is larger than %d bytes", maxErr.Limit)
	case err != nil && apiserver.ContentEncoding(req) != "":
		// The shared middleware decompresses as the body is read.
		return nil, http.StatusBadRequest, errors.New(apiserver.BadEncoding(req, err.Error()))
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("failed to read the body: %w", err)
	case int64(len(body)) > limit:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body is larger than %d bytes (decompressed); the limit is max_request_bytes", limit)
	}
	return body, 0, nil
}

// consume passes events on. When the pipeline refuses them it answers the
// request and returns false.
func (r *agentpulseReceiver) consume(w http.ResponseWriter, ctx context.Context, product string, events []event.Event) bool {
	err := r.send(ctx, product, events)
	switch {
	case err == nil:
		return true
	case consumererror.IsPermanent(err):
		r.set.Logger.Warn("Batch refused by the pipeline", zap.Error(err), zap.Int("events", len(events)))
		apiserver.WriteError(w, http.StatusBadRequest, apiserver.CodeInvalidRequest, "the pipeline refused the batch")
	default:
		r.set.Logger.Debug("Pipeline is not accepting events", zap.Error(err))
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		apiserver.WriteError(w, http.StatusServiceUnavailable, apiserver.CodeOverloaded,
			"the collector cannot accept events right now; retry later")
	}
	return false
}

func (r *agentpulseReceiver) send(ctx context.Context, product string, events []event.Event) error {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrProductID, product)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.LogRecords().EnsureCapacity(len(events))
	for i := range events {
		events[i].AppendTo(sl)
	}
	ctx = r.obsrecv.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(ctx, ld)
	r.obsrecv.EndLogsOp(ctx, "agentpulse_events", len(events), err)
	return err
}
