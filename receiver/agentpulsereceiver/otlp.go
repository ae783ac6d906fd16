package agentpulsereceiver

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentpulse/agentpulse/internal/apiserver"
	"github.com/agentpulse/agentpulse/internal/event"
	"github.com/agentpulse/agentpulse/internal/genai"
)

const (
	protobufType = "application/x-protobuf"
	jsonType     = "application/json"
)

// handleTraces takes OTLP/HTTP traces of GenAI instrumentations, maps their
// spans to events and passes those on like SDK events.
func (r *agentpulseReceiver) handleTraces(w http.ResponseWriter, req *http.Request) {
	p, mt, body, ok := r.ingestRequest(w, req, protobufType, jsonType)
	if !ok {
		return
	}
	er := ptraceotlp.NewExportRequest()
	if err := unmarshalOTLP(er.UnmarshalProto, er.UnmarshalJSON, mt, body); err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, apiserver.CodeInvalidRequest, "body is not an OTLP trace export request: "+err.Error())
		return
	}
	mapped, errs := genai.MapTraces(er.Traces(), genai.Options{ProductID: p.Product, MaxContentBytes: r.cfg.MaxStringBytes})
	mapped, rejected := r.checkMapped(mapped, true)
	errs = append(errs, rejected...)
	// A span whose own payload names nobody (its parent, which carries the
	// agentpulse.* or convention ids, may come in another request) takes
	// its trace's identity when known, and is held for it otherwise.
	named := genai.TraceIdentities(er.Traces())
	lookup := r.traces.lookup(p.Product)
	for i := range mapped {
		m := &mapped[i]
		if !isAnonymous(m) {
			continue
		}
		who, ok := named[m.TraceID]
		if !ok {
			who, ok = lookup(m.TraceID)
		}
		if ok {
			m.Event.SessionID, m.Event.UserID = who.SessionID, who.UserID
		} else {
			r.traces.holdAnonymous(p.Product, *m)
		}
	}
	events := make([]event.Event, 0, len(mapped))
	for _, m := range mapped {
		events = append(events, m.Event)
	}
	// Events of these traces that came earlier without anyone to belong to
	// (log records, or spans whose parent came later) are sent again under
	// the identity these spans name; their ids are the same, so the new
	// copies replace the old.
	for traceID, who := range named {
		events = append(events, r.traces.remember(p.Product, traceID, who)...)
	}
	for _, m := range mapped {
		who := genai.Identity{SessionID: m.Event.SessionID, UserID: m.Event.UserID}
		events = append(events, r.traces.remember(p.Product, m.TraceID, who)...)
	}
	if len(events) > 0 && !r.consume(w, req.Context(), p.Product, events) {
		return
	}
	resp := ptraceotlp.NewExportResponse()
	if len(errs) > 0 {
		resp.PartialSuccess().SetErrorMessage(joinErrs(errs))
		resp.PartialSuccess().SetRejectedSpans(int64(len(rejected)))
	}
	writeOTLP(w, mt, resp.MarshalProto, resp.MarshalJSON)
}

// handleLogs takes OTLP/HTTP logs: the prompt and completion records that
// some instrumentations send apart from their spans, and agentpulse.*
// business events.
func (r *agentpulseReceiver) handleLogs(w http.ResponseWriter, req *http.Request) {
	p, mt, body, ok := r.ingestRequest(w, req, protobufType, jsonType)
	if !ok {
		return
	}
	er := plogotlp.NewExportRequest()
	if err := unmarshalOTLP(er.UnmarshalProto, er.UnmarshalJSON, mt, body); err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, apiserver.CodeInvalidRequest, "body is not an OTLP logs export request: "+err.Error())
		return
	}
	mapped, errs := genai.MapLogs(er.Logs(), genai.Options{
		ProductID:       p.Product,
		MaxContentBytes: r.cfg.MaxStringBytes,
		TraceIdentity:   r.traces.lookup(p.Product),
	})
	mapped, rejected := r.checkMapped(mapped, false)
	errs = append(errs, rejected...)
	for _, m := range mapped {
		r.traces.holdAnonymous(p.Product, m)
	}
	if !r.consumeMapped(w, req, p.Product, mapped) {
		return
	}
	resp := plogotlp.NewExportResponse()
	if len(errs) > 0 {
		resp.PartialSuccess().SetErrorMessage(joinErrs(errs))
		resp.PartialSuccess().SetRejectedLogRecords(int64(len(rejected)))
	}
	writeOTLP(w, mt, resp.MarshalProto, resp.MarshalJSON)
}

// checkMapped keeps the events that the ingest API's rules allow (times,
// token counts, money values; spans must have ids) and describes the others.
func (r *agentpulseReceiver) checkMapped(mapped []genai.Mapped, fromSpans bool) ([]genai.Mapped, []error) {
	now := r.now()
	kept := mapped[:0]
	var rejected []error
	for _, m := range mapped {
		err := m.Event.Check(now, r.cfg.MaxFutureSkew)
		if err == nil && fromSpans && (m.TraceID.IsEmpty() || m.SpanID.IsEmpty()) {
			err = errors.New("the span has no trace id or span id")
		}
		if err != nil {
			rejected = append(rejected, fmt.Errorf("%s of span %s: %w", m.Event.EventType, m.SpanID, err))
			continue
		}
		kept = append(kept, m)
	}
	return kept, rejected
}

func (r *agentpulseReceiver) consumeMapped(w http.ResponseWriter, req *http.Request, product string, mapped []genai.Mapped) bool {
	if len(mapped) == 0 {
		return true
	}
	events := make([]event.Event, len(mapped))
	for i := range mapped {
		events[i] = mapped[i].Event
	}
	return r.consume(w, req.Context(), product, events)
}

func unmarshalOTLP(proto, json func([]byte) error, mediaType string, body []byte) error {
	if mediaType == jsonType {
		return json(body)
	}
	return proto(body)
}

func writeOTLP(w http.ResponseWriter, mediaType string, proto, json func() ([]byte, error)) {
	marshal := proto
	if mediaType == jsonType {
		marshal = json
	}
	b, err := marshal()
	if err != nil {
		apiserver.WriteError(w, http.StatusInternalServerError, apiserver.CodeInternal, "failed to encode the response")
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func joinErrs(errs []error) string {
	const maxShown = 5
	msg := ""
	for i, err := range errs {
		if i == maxShown {
			msg += "; ..."
			break
		}
		if i > 0 {
			msg += "; "
		}
		msg += err.Error()
	}
	return msg
}

// traceIdentities remembers who the spans of recent traces belonged to, so
// that log records and spans of the same trace which name no user or
// session land in the same session. Those that come before the spans that
// name someone are kept (at most maxHeldPerTrace per trace) until then. It holds at most limit traces of each kind, forgetting the oldest.
type traceIdentities struct {
	mu   sync.Mutex
	ids  *fifo[genai.Identity]
	held *fifo[[]event.Event]
}

// maxHeldPerTrace bounds the anonymous messages kept for one trace.
const maxHeldPerTrace = 256

type traceKey struct {
	product string
	trace   pcommon.TraceID
}

func newTraceIdentities(limit int) *traceIdentities {
	return &traceIdentities{ids: newFIFO[genai.Identity](limit), held: newFIFO[[]event.Event](limit)}
}

// remember records who a trace's spans belong to and returns the held
// messages of that trace, moved to that identity.
func (c *traceIdentities) remember(product string, id pcommon.TraceID, who genai.Identity) []event.Event {
	if id.IsEmpty() || who.UserID == genai.AnonymousPrefix+id.String() {
		return nil
	}
	k := traceKey{product, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids.put(k, who)
	held, ok := c.held.take(k)
	if !ok {
		return nil
	}
	for i := range held {
		held[i].SessionID, held[i].UserID = who.SessionID, who.UserID
	}
	return held
}

func (c *traceIdentities) lookup(product string) func(pcommon.TraceID) (genai.Identity, bool) {
	return func(id pcommon.TraceID) (genai.Identity, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.ids.get(traceKey{product, id})
	}
}

// isAnonymous reports whether an event fell back to its trace's anonymous
// user: nothing in its payload named a user or session.
func isAnonymous(m *genai.Mapped) bool {
	return !m.TraceID.IsEmpty() && m.Event.SessionID == "" && m.Event.UserID == genai.AnonymousPrefix+m.TraceID.String()
}

// holdAnonymous keeps an event that fell back to its trace's anonymous
// user, in case spans naming the trace's user or session come later.
func (c *traceIdentities) holdAnonymous(product string, m genai.Mapped) {
	if !isAnonymous(&m) {
		return
	}
	k := traceKey{product, m.TraceID}
	c.mu.Lock()
	defer c.mu.Unlock()
	held, _ := c.held.get(k)
	if len(held) < maxHeldPerTrace {
		c.held.put(k, append(held, m.Event))
	}
}

// fifo is a map bounded to limit keys that forgets the oldest key first.
type fifo[V any] struct {
	limit int
	m     map[traceKey]V
	order []traceKey
	next  int
}

func newFIFO[V any](limit int) *fifo[V] {
	return &fifo[V]{limit: limit, m: make(map[traceKey]V)}
}

func (f *fifo[V]) get(k traceKey) (V, bool) {
	v, ok := f.m[k]
	return v, ok
}

func (f *fifo[V]) put(k traceKey, v V) {
	if _, ok := f.m[k]; !ok {
		if len(f.order) < f.limit {
			f.order = append(f.order, k)
		} else {
			delete(f.m, f.order[f.next])
			f.order[f.next] = k
			f.next = (f.next + 1) % f.limit
		}
	}
	f.m[k] = v
}

// take removes k's value. Its slot in the order stays until it is reused,
// so a key taken and put again may be forgotten early: the bound holds.
func (f *fifo[V]) take(k traceKey) (V, bool) {
	v, ok := f.m[k]
	delete(f.m, k)
	return v, ok
}
