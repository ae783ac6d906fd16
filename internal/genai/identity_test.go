package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// identityOf maps td and returns the identity of the call event of span n.
func identityOf(t *testing.T, td ptrace.Traces, span byte) (Identity, Mapped) {
	t.Helper()
	out, errs := MapTraces(td, Options{ProductID: testProduct})
	require.Empty(t, errs)
	for _, m := range out {
		if m.Call && m.SpanID == (pcommon.SpanID{7: span}) {
			return Identity{m.Event.SessionID, m.Event.UserID}, m
		}
	}
	require.Failf(t, "no call event", "span %d", span)
	return Identity{}, Mapped{}
}

func chatAttrs(extra map[string]any) map[string]any {
	a := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func TestSessionAttributes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"otel conversation id", map[string]any{"gen_ai.conversation.id": "conv-1"}, "conv-1"},
		{"session.id", map[string]any{"session.id": "s-1"}, "s-1"},
		{"traceloop int session id", map[string]any{"traceloop.association.properties.session_id": 456}, "456"},
		{"traceloop integral double", map[string]any{"traceloop.association.properties.session_id": 12.0}, "12"},
		{"traceloop string", map[string]any{"traceloop.association.properties.session_id": "abc"}, "abc"},
		{"langfuse metadata as JSON string", map[string]any{"langfuse.trace.metadata.langfuse_session_id": `"lf-1"`}, "lf-1"},
		{"vercel telemetry metadata", map[string]any{"ai.telemetry.metadata.sessionId": "v-1"}, "v-1"},
		{"vercel v7 context", map[string]any{"ai.settings.context.sessionId": "v7-1"}, "v7-1"},
		{"openlit", map[string]any{"gen_ai.session.id": "ol-1"}, "ol-1"},
		{"openai agents group_id on the trace span", map[string]any{"agent_trace_id": "trace_1", "group_id": "g-1"}, "g-1"},
		{"group_id elsewhere is not a session", map[string]any{"group_id": "consumers"}, ""},
		{"null placeholder is absent", map[string]any{"session.id": "null", "gen_ai.conversation.id": "c-2"}, "c-2"},
		{"langfuse.session.id before session.id", map[string]any{"langfuse.session.id": "lf", "session.id": "s"}, "lf"},
		{"session.id before gen_ai.conversation.id", map[string]any{"session.id": "s", "gen_ai.conversation.id": "c"}, "s"},
		{"agentpulse.session_id wins", map[string]any{"agentpulse.session_id": "ap", "session.id": "s"}, "ap"},
		{"bool is no id", map[string]any{"session.id": true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			newSpan(td, 1, 1, 0, chatAttrs(tc.attrs))
			id, _ := identityOf(t, td, 1)
			assert.Equal(t, tc.want, id.SessionID)
		})
	}
}

func TestUserAttributes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"user.id", map[string]any{"user.id": "u-1"}, "u-1"},
		{"enduser.id", map[string]any{"enduser.id": "u-2"}, "u-2"},
		{"traceloop", map[string]any{"traceloop.association.properties.user_id": "1234"}, "1234"},
		{"langfuse.user.id before user.id", map[string]any{"langfuse.user.id": "lf", "user.id": "u"}, "lf"},
		{"vercel", map[string]any{"ai.telemetry.metadata.userId": "v"}, "v"},
		{"vercel v7", map[string]any{"ai.settings.context.userId": "user-123"}, "user-123"},
		{"openai user parameter", map[string]any{"gen_ai.request.user": "end-7"}, "end-7"},
		{"agentpulse.user_id wins", map[string]any{"agentpulse.user_id": "ap", "user.id": "u"}, "ap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			newSpan(td, 1, 1, 0, chatAttrs(tc.attrs))
			id, _ := identityOf(t, td, 1)
			assert.Equal(t, tc.want, id.UserID)
		})
	}
}

func TestIdentityLookupOrder(t *testing.T) {
	t.Run("ancestors then resource", func(t *testing.T) {
		td := ptrace.NewTraces()
		newSpan(td, 1, 1, 0, map[string]any{"session.id": "from-root"})
		newSpan(td, 1, 2, 1, map[string]any{"traceloop.span.kind": "task"})
		newSpan(td, 1, 3, 2, chatAttrs(nil))
		td.ResourceSpans().At(0).Resource().Attributes().PutStr("enduser.id", "from-resource")
		id, _ := identityOf(t, td, 3)
		assert.Equal(t, Identity{"from-root", "from-resource"}, id)
	})
	t.Run("the span's own convention id beats an ancestor's", func(t *testing.T) {
		td := ptrace.NewTraces()
		newSpan(td, 1, 1, 0, map[string]any{"session.id": "parent"})
		newSpan(td, 1, 2, 1, chatAttrs(map[string]any{"gen_ai.conversation.id": "own"}))
		id, _ := identityOf(t, td, 2)
		assert.Equal(t, "own", id.SessionID)
	})
	t.Run("agentpulse ids on an ancestor or the resource beat the span's convention ids", func(t *testing.T) {
		td := ptrace.NewTraces()
		newSpan(td, 1, 1, 0, map[string]any{"agentpulse.session_id": "ap-session"})
		newSpan(td, 1, 2, 1, chatAttrs(map[string]any{"gen_ai.conversation.id": "own", "user.id": "own-user"}))
		td.ResourceSpans().At(0).Resource().Attributes().PutStr("agentpulse.user_id", "ap-user")
		id, _ := identityOf(t, td, 2)
		assert.Equal(t, Identity{"ap-session", "ap-user"}, id)
	})
	t.Run("an ancestor of another trace is not used", func(t *testing.T) {
		td := ptrace.NewTraces()
		newSpan(td, 9, 1, 0, map[string]any{"session.id": "other-trace"})
		newSpan(td, 1, 2, 1, chatAttrs(nil))
		id, _ := identityOf(t, td, 2)
		assert.Equal(t, "", id.SessionID)
	})
	t.Run("a parent cycle ends", func(t *testing.T) {
		td := ptrace.NewTraces()
		newSpan(td, 1, 1, 2, map[string]any{"traceloop.span.kind": "task"})
		newSpan(td, 1, 2, 1, chatAttrs(nil))
		id, _ := identityOf(t, td, 2)
		assert.Equal(t, "", id.SessionID)
	})
}

func TestAnonymousUser(t *testing.T) {
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, chatAttrs(nil))
	id, _ := identityOf(t, td, 1)
	assert.Equal(t, Identity{"", "anonymous:" + pcommon.TraceID{15: 1}.String()}, id)

	td = ptrace.NewTraces()
	newSpan(td, 1, 1, 0, chatAttrs(map[string]any{"session.id": "s-9"}))
	id, _ = identityOf(t, td, 1)
	assert.Equal(t, Identity{"s-9", "anonymous:s-9"}, id)
}

func TestProductIsTheKeys(t *testing.T) {
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, chatAttrs(map[string]any{"agentpulse.product_id": "other-product"}))
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("agentpulse.product_id", "other-product")
	_, m := identityOf(t, td, 1)
	assert.Equal(t, testProduct, m.Event.ProductID)
}

func TestLongIDIsHashed(t *testing.T) {
	long := strings.Repeat("x", MaxIDBytes+1)
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, chatAttrs(map[string]any{"session.id": long, "user.id": "bad\xffutf8"}))
	id, _ := identityOf(t, td, 1)
	sum := sha256.Sum256([]byte(long))
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), id.SessionID)
	assert.Equal(t, "bad\uFFFDutf8", id.UserID)
}

func TestTopicAndMetadata(t *testing.T) {
	td := ptrace.NewTraces()
	newSpan(td, 1, 1, 0, map[string]any{"agentpulse.metadata.channel": "web", "agentpulse.topic": "billing"})
	newSpan(td, 1, 2, 1, chatAttrs(map[string]any{"agentpulse.metadata.channel": "whatsapp", "agentpulse.metadata.vip": true}))
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("agentpulse.topic", "ignored-resource-topic")
	_, m := identityOf(t, td, 2)
	assert.Equal(t, map[string]any{"channel": "whatsapp", "vip": true, "topic": "billing"}, m.Event.Metadata)
}
