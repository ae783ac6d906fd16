package genai

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentpulse/agentpulse/internal/event"
)

// Log record event names read by MapLogs besides the per-message ones.
const (
	logInferenceDetails = "gen_ai.client.inference.operation.details" // OTel GenAI 1.37+
	logContentPrompt    = "gen_ai.content.prompt"                     // LiteLLM's optional events
	logContentComplete  = "gen_ai.content.completion"
)

// MapLogs turns GenAI events sent as log records into message events, and
// agentpulse.* log events into business events. Instrumentations such as
// opentelemetry-instrumentation-openai-v2 send one record per message
// (gen_ai.system.message, gen_ai.user.message, gen_ai.assistant.message,
// gen_ai.tool.message, gen_ai.choice), carrying the model span's trace and
// span ids. Records are grouped by span and the same turn rule as for spans
// applies: the user messages after the last assistant or tool message are
// new, the first choice is the agent's reply. Message ids match the ones
// MapTraces gives the same message, so a message seen both ways counts once.
//
// Identity comes from the records' attributes, then their resource, then
// Options.TraceIdentity, then the anonymous fallback.
func MapLogs(ld plog.Logs, opts Options) ([]Mapped, []error) {
	m := newMapper(opts)
	for _, g := range groupLogs(ld) {
		m.mapLogGroup(g)
	}
	return m.out, m.errs
}

type logRef struct {
	rec  plog.LogRecord
	res  pcommon.Map
	name string
}

type logGroup struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
	recs  []logRef
}

// groupLogs collects the GenAI and agentpulse.* records by span, in order.
// Records without trace and span ids each form their own group.
func groupLogs(ld plog.Logs) []*logGroup {
	var groups []*logGroup
	bySpan := map[spanKey]*logGroup{}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				name := logEventName(lr)
				if !isGenAILog(name) {
					continue
				}
				ref := logRef{rec: lr, res: res, name: name}
				k := spanKey{lr.TraceID(), lr.SpanID()}
				if k.trace.IsEmpty() && k.span.IsEmpty() {
					groups = append(groups, &logGroup{recs: []logRef{ref}})
					continue
				}
				g := bySpan[k]
				if g == nil {
					g = &logGroup{trace: k.trace, span: k.span}
					bySpan[k] = g
					groups = append(groups, g)
				}
				g.recs = append(g.recs, ref)
			}
		}
	}
	return groups
}

func logEventName(lr plog.LogRecord) string {
	if n := lr.EventName(); n != "" {
		return n
	}
	return getStr(lr.Attributes(), "event.name")
}

func isGenAILog(name string) bool {
	if _, ok := eventRoles[name]; ok {
		return true
	}
	if _, ok := businessEvents[name]; ok {
		return true
	}
	return name == logInferenceDetails || name == logContentPrompt || name == logContentComplete
}

// timedMessage is a message and the time of the record that carried it.
type timedMessage struct {
	message
	ts time.Time
}

func (m *mapper) mapLogGroup(g *logGroup) {
	levels := make([]pcommon.Map, 0, len(g.recs)+1)
	for _, r := range g.recs {
		levels = append(levels, r.rec.Attributes())
	}
	levels = append(levels, g.recs[0].res)
	id := resolveIdentity(levels)
	if id.SessionID == "" && id.UserID == "" && m.opts.TraceIdentity != nil && !g.trace.IsEmpty() {
		if known, ok := m.opts.TraceIdentity(g.trace); ok {
			id = known
		}
	}
	traceHex := traceString(g.trace)
	id = id.withFallback(traceHex)
	base := event.Event{
		SessionID: id.SessionID,
		UserID:    id.UserID,
		ProductID: m.opts.ProductID,
		Metadata:  resolveMetadata(levels),
	}
	src := origin{trace: g.trace, span: g.span, traceHex: traceHex}

	var input, output []timedMessage
	for _, r := range g.recs {
		ts := recordTime(r.rec)
		switch r.name {
		case "gen_ai.choice":
			if msg, ok := choiceMessage(recordFields(r.rec)); ok && len(output) == 0 {
				output = append(output, timedMessage{msg, ts})
			}
		case logInferenceDetails:
			attrs := r.rec.Attributes()
			if x, ok := structured(attrs, "gen_ai.input.messages"); ok {
				input = timed(messagesFrom(x, roleUser), ts)
			}
			if x, ok := structured(attrs, "gen_ai.output.messages"); ok {
				output = timed(agentTexts(messagesFrom(x, roleAssistant), true), ts)
			}
		case logContentPrompt:
			input = append(input, timed(promptString(recordText(r.rec, "gen_ai.prompt")), ts)...)
		case logContentComplete:
			output = append(output, timed(completionString(recordText(r.rec, "gen_ai.completion")), ts)...)
		default:
			if role, ok := eventRoles[r.name]; ok {
				input = append(input, timedMessage{eventMessage(role, recordFields(r.rec)), ts})
				continue
			}
			m.logBusinessEvent(src, base, r, ts)
		}
	}

	msgs := make([]message, len(input))
	for i, t := range input {
		msgs[i] = t.message
	}
	for _, t := range input[userRunStart(msgs):] {
		if t.userTurn() {
			m.addMessage(src, base, event.TypeMessageUser, t.message, t.ts)
		}
	}
	for _, t := range output {
		if t.agentText() {
			m.addMessage(src, base, event.TypeMessageAgent, t.message, t.ts)
			break
		}
	}
}

func (m *mapper) logBusinessEvent(src origin, base event.Event, r logRef, ts time.Time) {
	typ, props, ok, err := businessEvent(r.name, r.rec.Attributes())
	if !ok {
		return
	}
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("log record of span %s: %w", src.span, err))
		return
	}
	e := base
	e.EventID = CallEventID(src.trace, src.span) + "-log-" + recordHash(r)
	e.EventType, e.Properties, e.Timestamp = typ, props, ts
	m.add(src, e, false)
}

func timed(msgs []message, ts time.Time) []timedMessage {
	out := make([]timedMessage, len(msgs))
	for i, msg := range msgs {
		out[i] = timedMessage{msg, ts}
	}
	return out
}

func recordTime(lr plog.LogRecord) time.Time {
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	return ts.AsTime().UTC()
}

// recordFields merges a record's body (a map, or a string taken as the
// content) with the message fields some emitters put in attributes.
func recordFields(lr plog.LogRecord) map[string]any {
	fields := map[string]any{}
	body := lr.Body()
	switch body.Type() {
	case pcommon.ValueTypeMap:
		fields = body.Map().AsRaw()
	case pcommon.ValueTypeStr:
		if body.Str() != "" {
			fields["content"] = body.Str()
		}
	}
	attrs := lr.Attributes()
	for _, k := range []string{"role", "content", "message", "index", "tool_calls", "tool_call_id"} {
		if _, ok := fields[k]; ok {
			continue
		}
		if v, ok := attrs.Get(k); ok {
			fields[k] = v.AsRaw()
		}
	}
	return fields
}

// recordText reads a text field from the attributes, else the body.
func recordText(lr plog.LogRecord, key string) string {
	if s := getStr(lr.Attributes(), key); s != "" {
		return s
	}
	body := lr.Body()
	switch body.Type() {
	case pcommon.ValueTypeStr:
		return body.Str()
	case pcommon.ValueTypeMap:
		if v, ok := body.Map().Get(key); ok {
			return v.AsString()
		}
	}
	return ""
}

// recordHash identifies a record by its name, time and attributes, so a
// resent record keeps its event id.
func recordHash(r logRef) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(r.name))
	_, _ = h.Write([]byte(strconv.FormatUint(uint64(r.rec.Timestamp()), 10)))
	for k, v := range r.rec.Attributes().All() {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(k))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(v.AsString()))
	}
	return hex.EncodeToString(h.Sum(nil))
}
