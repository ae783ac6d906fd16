package genai

import (
	"math"
	"strings"

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
//     reported cost_usd property (an unpriced call gets its status only);
//   - on each agentpulse.* business span event, the event's id, session,
//     user and (payments) agentpulse.amount_usd;
//   - for each message event, an agentpulse.message span event with its id,
//     type, session, user, agentpulse.content_length, agentpulse.truncated
//     and the classifier's agentpulse.topic, never the content.
//
// MapTraces reads all of these back, so mapping annotated spans again gives
// the events as they were passed in, even after StripContent.
//
// mapped is what MapTraces returned for td, possibly updated since (session
// ids assigned, costs computed). Events whose span is not in td are ignored.
// Annotating twice updates the notes rather than adding new ones.
func Annotate(td ptrace.Traces, mapped []Mapped) {
	type note struct {
		call          *event.Event
		session, user string
		others        []*Mapped
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
		} else {
			n.others = append(n.others, mp)
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
				annotateEvents(sp, n.others)
			}
		}
	}
}

// annotateEvents writes the notes of a span's other events: on the business
// span event each came from, and as agentpulse.message events for messages.
func annotateEvents(sp ptrace.Span, others []*Mapped) {
	if len(others) == 0 {
		return
	}
	events := sp.Events()
	notesByID := map[string]int{}
	for j, ev := range events.All() {
		if ev.Name() != EventMessage {
			continue
		}
		if v, ok := ev.Attributes().Get(AttrEventID); ok && v.Type() == pcommon.ValueTypeStr {
			notesByID[strings.TrimSpace(v.Str())] = j
		}
	}
	for _, mp := range others {
		e := &mp.Event
		switch e.EventType {
		case event.TypeMessageUser, event.TypeMessageAgent:
			if j, ok := notesByID[e.EventID]; ok {
				writeMessageNote(events.At(j), e)
				continue
			}
			notesByID[e.EventID] = events.Len()
			writeMessageNote(events.AppendEmpty(), e)
		default:
			j := mp.spanEvent - 1
			if j < 0 || j >= events.Len() {
				continue
			}
			if _, ok := businessEvents[events.At(j).Name()]; ok {
				writeEventNote(events.At(j).Attributes(), e)
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
