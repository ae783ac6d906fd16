package genai

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// DefaultMaxContentBytes is the content bound when Options leaves it zero,
// the same as the ingest API's string limit.
const DefaultMaxContentBytes = 32 << 10

// maxAncestors bounds the parent walk, so that hostile parent cycles or
// very deep trees cost little.
const maxAncestors = 64

// Options configure a mapping.
type Options struct {
	// ProductID is the product of the API key the telemetry came with. Every
	// event gets it; no attribute of the payload can change it.
	ProductID string

	// MaxContentBytes bounds message content and error texts: longer ones
	// are cut at a character boundary and the event is marked truncated;
	// content_length still counts the whole text. Zero means
	// DefaultMaxContentBytes.
	MaxContentBytes int

	// TraceIdentity, if set, gives MapLogs the identity of a trace whose log
	// records name no session or user (the caller may remember it from the
	// trace's spans). MapTraces does not use it.
	TraceIdentity func(pcommon.TraceID) (Identity, bool)

	// ProductOf, if set, replaces ProductID in MapTraces: the product of a
	// span's events is ProductOf of its resource's attributes, and the spans
	// of a resource it gives "" for yield no events (they still count as
	// ancestors). A collector pipeline uses ResourceProduct.
	ProductOf func(resource pcommon.Map) string
}

// ResourceProduct reads the resource attribute agentpulse.product_id, which
// the agentpulse processor sets on the spans it passes on.
func ResourceProduct(resource pcommon.Map) string {
	if v, ok := resource.Get(event.AttrProductID); ok && v.Type() == pcommon.ValueTypeStr {
		return strings.TrimSpace(v.Str())
	}
	return ""
}

// Mapped is one event and the span or log record it came from.
type Mapped struct {
	Event   event.Event
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID

	// Call marks the event that stands for the span itself (its
	// action.llm_call or action.tool_call); Annotate writes its type and
	// cost on the span.
	Call bool

	// spanEvent is the position + 1 of the span event the event came from
	// (a business event or a message note), 0 for the others.
	spanEvent int
}

// MapTraces turns GenAI spans of any supported convention into AgentPulse
// events. It never fails as a whole: agentpulse.* events with bad values
// are left out, and each is described in the returned errors.
func MapTraces(td ptrace.Traces, opts Options) ([]Mapped, []error) {
	ix := indexTraces(td)
	m := newMapper(opts)
	for i := range ix.spans {
		m.mapSpan(ix, i)
	}
	return m.out, m.errs
}

type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

type spanRef struct {
	span  ptrace.Span
	res   pcommon.Map
	scope string
}

// traceIndex finds a span's parent within one payload.
type traceIndex struct {
	spans []spanRef
	byID  map[spanKey]int
}

func indexTraces(td ptrace.Traces) *traceIndex {
	ix := &traceIndex{byID: map[spanKey]int{}}
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		for _, ss := range rs.ScopeSpans().All() {
			scope := ss.Scope().Name()
			for _, sp := range ss.Spans().All() {
				k := spanKey{sp.TraceID(), sp.SpanID()}
				if _, dup := ix.byID[k]; !dup {
					ix.byID[k] = len(ix.spans)
				}
				ix.spans = append(ix.spans, spanRef{span: sp, res: res, scope: scope})
			}
		}
	}
	return ix
}

// levels lists the attribute maps identity is looked up in: the span, its
// ancestors present in the payload, then the span's resource.
func (ix *traceIndex) levels(i int) []pcommon.Map {
	ref := ix.spans[i]
	out := []pcommon.Map{ref.span.Attributes()}
	seen := map[int]bool{i: true}
	cur := ref.span
	for range maxAncestors {
		parent := cur.ParentSpanID()
		if parent.IsEmpty() {
			break
		}
		j, ok := ix.byID[spanKey{cur.TraceID(), parent}]
		if !ok || seen[j] {
			break
		}
		seen[j] = true
		cur = ix.spans[j].span
		out = append(out, cur.Attributes())
	}
	return append(out, ref.res)
}

type mapper struct {
	opts       Options
	maxContent int
	out        []Mapped
	seen       map[string]int // message event id -> index in out
	errs       []error
}

func newMapper(opts Options) *mapper {
	maxContent := opts.MaxContentBytes
	if maxContent <= 0 {
		maxContent = DefaultMaxContentBytes
	}
	return &mapper{opts: opts, maxContent: maxContent, seen: map[string]int{}}
}

func (m *mapper) mapSpan(ix *traceIndex, i int) {
	ref := ix.spans[i]
	sp := ref.span
	product := m.opts.ProductID
	if m.opts.ProductOf != nil {
		if product = m.opts.ProductOf(ref.res); product == "" {
			return
		}
	}
	kind := classify(sp, ref.scope)
	if kind == kindOther && !hasBusinessEvents(sp) {
		return
	}

	levels := ix.levels(i)
	traceHex := traceString(sp.TraceID())
	id := resolveIdentity(levels).withFallback(traceHex)
	src := origin{trace: sp.TraceID(), span: sp.SpanID(), traceHex: traceHex}
	base := event.Event{
		SessionID: id.SessionID,
		UserID:    id.UserID,
		ProductID: product,
		Metadata:  resolveMetadata(levels),
	}
	start, end := spanTimes(sp)
	callID := CallEventID(sp.TraceID(), sp.SpanID())

	switch kind {
	case kindLLM:
		e := base
		e.EventID, e.EventType, e.Timestamp = callID, event.TypeLLMCall, start
		e.Properties = m.llmProperties(sp, &e)
		readCostNote(sp.Attributes(), &e)
		m.add(src, e, true)
	case kindTool:
		e := base
		e.EventID, e.EventType, e.Timestamp = callID, event.TypeToolCall, start
		e.Properties = m.toolProperties(sp, &e)
		readCostNote(sp.Attributes(), &e)
		m.add(src, e, true)
	}

	if kind == kindLLM || kind == kindAgent {
		t := spanTurn(sp, kind)
		for _, msg := range t.userMessages() {
			m.addMessage(src, base, event.TypeMessageUser, msg, start)
		}
		for _, msg := range t.agentMessages(kind) {
			m.addMessage(src, base, event.TypeMessageAgent, msg, end)
		}
	}

	for j, ev := range sp.Events().All() {
		if ev.Name() == EventMessage {
			if err := m.addMessageNote(src, base, ev, j, start); err != nil {
				m.errs = append(m.errs, fmt.Errorf("span %s: %w", sp.SpanID(), err))
			}
			continue
		}
		typ, props, ok, err := businessEvent(ev.Name(), ev.Attributes())
		if !ok {
			continue
		}
		if err != nil {
			m.errs = append(m.errs, fmt.Errorf("span %s: %w", sp.SpanID(), err))
			continue
		}
		e := base
		e.EventID = callID + "-ev" + strconv.Itoa(j)
		e.EventType, e.Properties = typ, props
		e.Timestamp = start
		if ts := ev.Timestamp(); ts != 0 {
			e.Timestamp = ts.AsTime().UTC()
		}
		if err := readEventNote(ev.Attributes(), &e); err != nil {
			m.errs = append(m.errs, fmt.Errorf("span %s: %s: %w", sp.SpanID(), ev.Name(), err))
		}
		m.add(src, e, false)
		m.out[len(m.out)-1].spanEvent = j + 1
	}
}

// hasBusinessEvents reports whether the span has agentpulse.* events:
// business events or message notes.
func hasBusinessEvents(sp ptrace.Span) bool {
	for _, ev := range sp.Events().All() {
		if _, ok := businessEvents[ev.Name()]; ok || ev.Name() == EventMessage {
			return true
		}
	}
	return false
}

// origin is where an event came from.
type origin struct {
	trace    pcommon.TraceID
	span     pcommon.SpanID
	traceHex string
}

func (m *mapper) add(src origin, e event.Event, call bool) {
	e.Metadata = maps.Clone(e.Metadata)
	m.out = append(m.out, Mapped{Event: e, TraceID: src.trace, SpanID: src.span, Call: call})
}

// addMessage adds a message event unless the same message of the same
// trace was already added, in which case the earliest time is kept.
func (m *mapper) addMessage(src origin, base event.Event, typ string, msg message, ts time.Time) {
	id := messageID(src, typ, msg)
	if i, dup := m.seen[id]; dup {
		if ts.Before(m.out[i].Event.Timestamp) {
			m.out[i].Event.Timestamp = ts
		}
		return
	}
	e := base
	e.EventID, e.EventType, e.Timestamp = id, typ, ts
	e.Properties = map[string]any{}
	content, length, truncated := m.clip(msg.text)
	if content != "" {
		e.Properties["content"] = content
	}
	e.Properties["content_length"] = length
	e.Truncated = truncated
	m.seen[id] = len(m.out)
	m.add(src, e, false)
}

func (m *mapper) llmProperties(sp ptrace.Span, e *event.Event) map[string]any {
	attrs := sp.Attributes()
	props := map[string]any{}
	model, request := models(attrs)
	if model != "" {
		props["model"] = strings.ToValidUTF8(model, "\uFFFD")
	}
	if request != "" {
		props["request_model"] = strings.ToValidUTF8(request, "\uFFFD")
	}
	prov := provider(attrs)
	if prov != "" {
		props["provider"] = strings.ToValidUTF8(prov, "\uFFFD")
	}

	u, ok := langfuseUsage(attrs)
	if !ok {
		u = readUsage(attrs).normalize(isAnthropic(prov, model, request))
	}
	putUsage(props, u)
	if c, ok := reportedCost(attrs); ok {
		props["cost_usd"] = c
	}
	m.putCallCommon(sp, props, e)
	return props
}

func (m *mapper) toolProperties(sp ptrace.Span, e *event.Event) map[string]any {
	props := map[string]any{}
	if name := toolName(sp); name != "" {
		props["tool_name"], _, _ = m.clip(name)
	}
	if c, ok := reportedCost(sp.Attributes()); ok {
		props["cost_usd"] = c
	}
	m.putCallCommon(sp, props, e)
	return props
}

func (m *mapper) putCallCommon(sp ptrace.Span, props map[string]any, e *event.Event) {
	if d, ok := durationMS(sp); ok {
		props["duration_ms"] = d
	}
	status, msg := spanStatus(sp)
	props["status"] = status
	if msg != "" {
		s, _, truncated := m.clip(msg)
		props["error"] = s
		e.Truncated = e.Truncated || truncated
	}
}

func putUsage(props map[string]any, u tokenUsage) {
	for _, f := range []struct {
		key string
		n   int64
		has bool
	}{
		{"input_tokens", u.Input, u.HasInput},
		{"output_tokens", u.Output, u.HasOutput},
		{"cached_input_tokens", u.CachedInput, u.HasCachedInput},
		{"cache_creation_input_tokens", u.CacheCreation, u.HasCacheCreation},
		{"reasoning_tokens", u.Reasoning, u.HasReasoning},
	} {
		if f.has {
			props[f.key] = f.n
		}
	}
}

// clip makes text valid UTF-8 and bounds it; length counts the whole text in
// characters.
func (m *mapper) clip(s string) (string, int64, bool) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	length := int64(utf8.RuneCountInString(s))
	if len(s) <= m.maxContent {
		return s, length, false
	}
	cut := m.maxContent
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], length, true
}

// spanTimes returns the span's start and end; a missing one takes the
// other's value.
func spanTimes(sp ptrace.Span) (time.Time, time.Time) {
	s, e := sp.StartTimestamp(), sp.EndTimestamp()
	if s == 0 {
		s = e
	}
	if e == 0 || e < s {
		e = s
	}
	return s.AsTime().UTC(), e.AsTime().UTC()
}

func durationMS(sp ptrace.Span) (float64, bool) {
	s, e := sp.StartTimestamp(), sp.EndTimestamp()
	if s == 0 || e < s {
		return 0, false
	}
	return float64(e-s) / 1e6, true
}

// CallEventID is the event id of a span's call event: the trace id and span
// id in hex, "<trace_id>-<span_id>". The span id alone is not enough: ids
// repeat across traces in real captures (Phoenix's fixtures number spans
// 1, 2, 3 in every trace). A resent span maps to the same id, so it is
// stored once.
func CallEventID(traceID pcommon.TraceID, spanID pcommon.SpanID) string {
	switch {
	case traceID.IsEmpty():
		return spanString(spanID)
	default:
		return traceID.String() + "-" + spanString(spanID)
	}
}

func traceString(t pcommon.TraceID) string {
	if t.IsEmpty() {
		return ""
	}
	return t.String()
}

func spanString(s pcommon.SpanID) string {
	if s.IsEmpty() {
		return "0000000000000000"
	}
	return s.String()
}

// messageID identifies a message within its trace: role and a hash of the
// text. A conversation repeats its history in every model call of a turn,
// and agent spans repeat their model calls' input and output, so the same
// message seen on several spans of a trace is one event.
func messageID(src origin, typ string, msg message) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(typ))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(msg.text))
	if msg.media {
		_, _ = h.Write([]byte{0, 'm'})
	}
	who := "user"
	if typ == event.TypeMessageAgent {
		who = "agent"
	}
	prefix := src.traceHex
	if prefix == "" {
		prefix = spanString(src.span)
	}
	return prefix + "-" + who + "-" + hex.EncodeToString(h.Sum(nil))
}
