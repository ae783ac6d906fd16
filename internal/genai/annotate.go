package genai

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// Annotate writes mapping results back onto the spans they came from, so
// that the spans can go on to another pipeline carrying AgentPulse's view:
//
//   - agentpulse.session_id and agentpulse.user_id on every span that
//     produced an event, and agentpulse.session_id on the other spans of a
//     trace whose events all share one session;
//   - agentpulse.event_type on a span whose call event is in mapped
//     (action.llm_call or action.tool_call);
//   - agentpulse.cost_usd and agentpulse.cost_status on that span when the
//     cost is known: the Event's CostUSD filled in by the processor, else a
//     reported cost_usd property (an unpriced call gets its status only).
//
// mapped is what MapTraces returned for td, possibly updated since (session
// ids assigned, costs computed). Events whose span is not in td are ignored.
func Annotate(td ptrace.Traces, mapped []Mapped) {
	type note struct {
		call          *event.Event
		session, user string
	}
	notes := make(map[spanKey]*note, len(mapped))
	traceSession := map[pcommon.TraceID]string{}
	mixed := map[pcommon.TraceID]bool{}
	for i := range mapped {
		mp := &mapped[i]
		k := spanKey{mp.TraceID, mp.SpanID}
		n := notes[k]
		if n == nil {
			n = &note{}
			notes[k] = n
		}
		if mp.Call {
			n.call = &mp.Event
		}
		if n.session == "" {
			n.session = mp.Event.SessionID
		}
		if n.user == "" {
			n.user = mp.Event.UserID
		}
		if s := mp.Event.SessionID; s != "" {
			if prev, ok := traceSession[mp.TraceID]; ok && prev != s {
				mixed[mp.TraceID] = true
			}
			traceSession[mp.TraceID] = s
		}
	}

	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				attrs := sp.Attributes()
				n, ok := notes[spanKey{sp.TraceID(), sp.SpanID()}]
				if !ok {
					if s := traceSession[sp.TraceID()]; s != "" && !mixed[sp.TraceID()] {
						attrs.PutStr(event.AttrSessionID, s)
					}
					continue
				}
				if n.session != "" {
					attrs.PutStr(event.AttrSessionID, n.session)
				}
				if n.user != "" {
					attrs.PutStr(event.AttrUserID, n.user)
				}
				if n.call != nil {
					annotateCall(attrs, n.call)
				}
			}
		}
	}
}

func annotateCall(attrs pcommon.Map, e *event.Event) {
	attrs.PutStr(event.AttrEventType, e.EventType)
	cost, status := e.CostUSD, e.CostStatus
	if cost == nil {
		if c, ok := event.Float(e.Properties, "cost_usd"); ok {
			cost = &c
			if status == "" {
				status = event.CostReported
			}
		}
	}
	if cost != nil && status != event.CostUnpriced && !math.IsNaN(*cost) && !math.IsInf(*cost, 0) {
		attrs.PutDouble(event.AttrCostUSD, *cost)
	}
	if status != "" {
		attrs.PutStr(event.AttrCostStatus, status)
	}
}
