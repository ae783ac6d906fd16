package agentpulsereceiver

import (
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
	for _, m := range mapped {
		r.traces.remember(m.TraceID, genai.Identity{SessionID: m.Event.SessionID, UserID: m.Event.UserID})
	}
	if !r.consumeMapped(w, req, p.Product, mapped) {
		return
	}
	resp := ptraceotlp.NewExportResponse()
	if len(errs) > 0 {
		resp.PartialSuccess().SetErrorMessage(joinErrs(errs))
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
		TraceIdentity:   r.traces.lookup,
	})
	if !r.consumeMapped(w, req, p.Product, mapped) {
		return
	}
	resp := plogotlp.NewExportResponse()
	if len(errs) > 0 {
		resp.PartialSuccess().SetErrorMessage(joinErrs(errs))
	}
	writeOTLP(w, mt, resp.MarshalProto, resp.MarshalJSON)
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
// that log records of the same trace which name no user or session land in
// the same session. It holds at most limit traces, forgetting the oldest.
type traceIdentities struct {
	mu    sync.Mutex
	limit int
	ids   map[pcommon.TraceID]genai.Identity
	order []pcommon.TraceID
	next  int
}

func newTraceIdentities(limit int) *traceIdentities {
	return &traceIdentities{limit: limit, ids: make(map[pcommon.TraceID]genai.Identity)}
}

func (c *traceIdentities) remember(id pcommon.TraceID, who genai.Identity) {
	if id.IsEmpty() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[id]; ok {
		c.ids[id] = who
		return
	}
	if len(c.order) < c.limit {
		c.order = append(c.order, id)
	} else {
		delete(c.ids, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % c.limit
	}
	c.ids[id] = who
}

func (c *traceIdentities) lookup(id pcommon.TraceID) (genai.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	who, ok := c.ids[id]
	return who, ok
}
