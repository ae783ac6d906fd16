package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

// Identity is who an event belongs to.
type Identity struct {
	SessionID string
	UserID    string
}

// Attributes of the agentpulse.* convention (see CONVENTION.md).
const (
	AttrSessionID      = event.AttrSessionID // "agentpulse.session_id"
	AttrUserID         = event.AttrUserID    // "agentpulse.user_id"
	AttrTopic          = event.AttrTopic     // "agentpulse.topic"
	AttrMetadataPrefix = "agentpulse.metadata."
)

// Session and user attributes of the conventions, in precedence order (the
// order Langfuse reads them in, then the other conventions).
var (
	sessionKeys = []string{
		"langfuse.session.id",
		"session.id",
		"gen_ai.conversation.id",
		"traceloop.association.properties.session_id",
		"ai.telemetry.metadata.sessionId",
		"ai.telemetry.metadata.session_id",
		"ai.settings.context.sessionId",
		"ai.settings.runtimeContext.sessionId",
		"langfuse.trace.metadata.langfuse_session_id",
		"langfuse.observation.metadata.langfuse_session_id",
		"gen_ai.session.id", // OpenLIT
	}
	userKeys = []string{
		"langfuse.user.id",
		"user.id",
		"enduser.id",
		"enduser.pseudo.id",
		"traceloop.association.properties.user_id",
		"ai.telemetry.metadata.userId",
		"ai.telemetry.metadata.user_id",
		"ai.settings.context.userId",
		"ai.settings.runtimeContext.userId",
		"langfuse.trace.metadata.langfuse_user_id",
		"langfuse.observation.metadata.langfuse_user_id",
		"gen_ai.user.id",                    // OpenLIT
		"metadata.user_api_key_end_user_id", // LiteLLM
		"gen_ai.request.user", "llm.user",   // the end-user id passed to the provider
	}
)

// MaxIDBytes bounds session and user ids; a longer one is replaced by
// "sha256:" and its hash, so that it still groups but stays storable.
const MaxIDBytes = 1024

// AnonymousPrefix starts the user id given to events whose telemetry names
// no user: "anonymous:<session id>" when a session is known, else
// "anonymous:<trace id>", so each such session or trace is its own user.
const AnonymousPrefix = "anonymous:"

func cleanID(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) > MaxIDBytes {
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return s
}

// lookupID returns the first id found among keys in m. group_id is read
// only on an OpenAI Agents trace span (one with agent_trace_id).
func lookupID(m pcommon.Map, keys []string, session bool) string {
	for _, k := range keys {
		if v, ok := m.Get(k); ok {
			if s := idString(v); s != "" {
				return cleanID(s)
			}
		}
	}
	if session {
		if _, ok := m.Get("agent_trace_id"); ok {
			if v, ok := m.Get("group_id"); ok {
				if s := idString(v); s != "" {
					return cleanID(s)
				}
			}
		}
	}
	return ""
}

// resolveID finds an id along levels (the span, its ancestors, then the
// resource): an agentpulse.* attribute anywhere wins, then the nearest
// level holding any convention's attribute.
func resolveID(levels []pcommon.Map, own string, keys []string, session bool) string {
	for _, m := range levels {
		if v, ok := m.Get(own); ok {
			if s := idString(v); s != "" {
				return cleanID(s)
			}
		}
	}
	for _, m := range levels {
		if s := lookupID(m, keys, session); s != "" {
			return s
		}
	}
	return ""
}

func resolveIdentity(levels []pcommon.Map) Identity {
	return Identity{
		SessionID: resolveID(levels, AttrSessionID, sessionKeys, true),
		UserID:    resolveID(levels, AttrUserID, userKeys, false),
	}
}

// withFallback fills the anonymous user of an identity without one.
func (id Identity) withFallback(traceID string) Identity {
	if id.UserID != "" {
		return id
	}
	switch {
	case id.SessionID != "":
		id.UserID = cleanID(AnonymousPrefix + id.SessionID)
	case traceID != "":
		id.UserID = AnonymousPrefix + traceID
	default:
		id.UserID = AnonymousPrefix + "unknown"
	}
	return id
}

// resolveMetadata reads agentpulse.topic (as metadata.topic) and
// agentpulse.metadata.<key> along levels; the nearest level wins.
func resolveMetadata(levels []pcommon.Map) map[string]any {
	var md map[string]any
	put := func(k string, v pcommon.Value) {
		if k == "" {
			return
		}
		if _, done := md[k]; done {
			return
		}
		var x any
		switch v.Type() {
		case pcommon.ValueTypeStr:
			s := strings.ToValidUTF8(strings.TrimSpace(v.Str()), "\uFFFD")
			if s == "" {
				return
			}
			x = s
		case pcommon.ValueTypeInt:
			x = v.Int()
		case pcommon.ValueTypeDouble:
			f, ok := number(v)
			if !ok {
				return
			}
			x = f
		case pcommon.ValueTypeBool:
			x = v.Bool()
		default:
			return
		}
		if md == nil {
			md = map[string]any{}
		}
		md[k] = x
	}
	for _, m := range levels {
		if v, ok := m.Get(AttrTopic); ok {
			put("topic", v)
		}
		for k, v := range m.All() {
			if name, ok := strings.CutPrefix(k, AttrMetadataPrefix); ok {
				put(name, v)
			}
		}
	}
	return md
}

// TraceIdentities returns, for each trace of td, the identity that one of
// its spans names (the agentpulse.* or a convention's session and user ids,
// on the span or its resource), also for spans that map to no event, such
// as an application's own "turn" span. The first naming span of a trace
// wins.
func TraceIdentities(td ptrace.Traces) map[pcommon.TraceID]Identity {
	out := map[pcommon.TraceID]Identity{}
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if _, seen := out[sp.TraceID()]; seen || sp.TraceID().IsEmpty() {
					continue
				}
				id := resolveIdentity([]pcommon.Map{sp.Attributes(), res})
				if id.SessionID == "" && id.UserID == "" {
					continue
				}
				out[sp.TraceID()] = id.withFallback(traceString(sp.TraceID()))
			}
		}
	}
	return out
}
