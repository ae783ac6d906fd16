package genai

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// fixtureDir holds the shared OTLP/JSON fixtures; they are read in place and
// not shipped with the repository.
const fixtureDir = "../../../shared/fixtures/otlp"

const testProduct = "prod-test"

func requireFixtureDir(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(fixtureDir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("OTLP fixtures not found at %s: they live in the shared folder next to the repository and are not shipped with it", fixtureDir)
	}
}

func loadFixture(t *testing.T, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	require.NoError(t, err)
	return td
}

func mapFixture(t *testing.T, td ptrace.Traces) []Mapped {
	t.Helper()
	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Empty(t, errs)
	return out
}

func countTypes(out []Mapped) map[string]int {
	c := map[string]int{}
	for _, m := range out {
		c[m.Event.EventType]++
	}
	return c
}

// byID returns the one event with the id.
func byID(t *testing.T, out []Mapped, id string) Mapped {
	t.Helper()
	var found []Mapped
	for _, m := range out {
		if m.Event.EventID == id {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "events with id %s", id)
	return found[0]
}

func ofType(out []Mapped, typ string) []event.Event {
	var es []event.Event
	for _, m := range out {
		if m.Event.EventType == typ {
			es = append(es, m.Event)
		}
	}
	return es
}

func ns(n int64) time.Time { return time.Unix(0, n).UTC() }

// call is the expected call event of one span.
type call struct {
	span  string // span id hex
	typ   string
	start int64 // ns
	props map[string]any
}

// assertCalls checks every call event: id, type, time and exact properties,
// and that there are no others.
func assertCalls(t *testing.T, out []Mapped, trace string, calls []call) {
	t.Helper()
	n := 0
	for _, m := range out {
		if m.Call {
			n++
		}
	}
	assert.Equal(t, len(calls), n, "call events")
	for _, c := range calls {
		m := byID(t, out, trace+"-"+c.span)
		assert.True(t, m.Call)
		assert.Equal(t, c.span, m.SpanID.String())
		assert.Equal(t, trace, m.TraceID.String())
		assert.Equal(t, c.typ, m.Event.EventType, c.span)
		assert.Equal(t, ns(c.start), m.Event.Timestamp, c.span)
		assert.Equal(t, c.props, m.Event.Properties, c.span)
	}
}

// msg is an expected message event.
type msg struct {
	typ     string
	content string
	at      int64 // ns
}

// assertMessages checks the message events of one trace, in order.
func assertMessages(t *testing.T, out []Mapped, trace string, want []msg) {
	t.Helper()
	var got []msg
	for _, m := range out {
		e := m.Event
		if (e.EventType != event.TypeMessageUser && e.EventType != event.TypeMessageAgent) || m.TraceID.String() != trace {
			continue
		}
		content, _ := e.Properties["content"].(string)
		got = append(got, msg{e.EventType, content, e.Timestamp.UnixNano()})
		who := "-user-"
		if e.EventType == event.TypeMessageAgent {
			who = "-agent-"
		}
		assert.Regexp(t, "^"+trace+who+"[0-9a-f]{16}$", e.EventID)
		assert.Equal(t, int64(len([]rune(content))), e.Properties["content_length"])
	}
	assert.Equal(t, want, got)
}

// assertIdentity checks that every event has the product, session and user.
func assertIdentity(t *testing.T, out []Mapped, session, user string) {
	t.Helper()
	for _, m := range out {
		assert.Equal(t, testProduct, m.Event.ProductID, m.Event.EventID)
		assert.Equal(t, session, m.Event.SessionID, m.Event.EventID)
		assert.Equal(t, user, m.Event.UserID, m.Event.EventID)
	}
}

// spanAttr reads a string attribute of a fixture span (used where the
// expected value is a long text of the fixture).
func spanAttr(t *testing.T, td ptrace.Traces, spanID, key string) string {
	t.Helper()
	sp := findSpan(t, td, spanID)
	v, ok := sp.Attributes().Get(key)
	require.True(t, ok, key)
	return v.Str()
}

func findSpan(t *testing.T, td ptrace.Traces, spanID string) ptrace.Span {
	t.Helper()
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if sp.SpanID().String() == spanID {
					return sp
				}
			}
		}
	}
	require.Failf(t, "span not found", "%s", spanID)
	return ptrace.Span{}
}

// newSpan adds a span with the given attributes to td.
func newSpan(td ptrace.Traces, trace, span, parent byte, attrs map[string]any) ptrace.Span {
	var ss ptrace.ScopeSpans
	if td.ResourceSpans().Len() == 0 {
		ss = td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	} else {
		ss = td.ResourceSpans().At(0).ScopeSpans().At(0)
	}
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{15: trace})
	sp.SetSpanID(pcommon.SpanID{7: span})
	if parent != 0 {
		sp.SetParentSpanID(pcommon.SpanID{7: parent})
	}
	sp.SetStartTimestamp(pcommon.Timestamp(1_000_000_000 * int64(span)))
	sp.SetEndTimestamp(pcommon.Timestamp(1_000_000_000*int64(span) + 250_000_000))
	if err := sp.Attributes().FromRaw(attrs); err != nil {
		panic(err)
	}
	return sp
}
