package genai

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestIsContentAttribute(t *testing.T) {
	for key, want := range map[string]bool{
		"gen_ai.input.messages":                         true,
		"gen_ai.prompt":                                 true,
		"gen_ai.prompt.0.content":                       true,
		"gen_ai.completion.1.role":                      true,
		"llm.input_messages.0.message.content":          true,
		"llm.output_messages.2.message.tool_calls.0.id": true,
		"input.value":                                   true,
		"ai.response.text":                              true,
		"ai.prompt.messages":                            true,
		"gen_ai.usage.prompt_tokens":                    false,
		"gen_ai.request.model":                          false,
		"llm.token_count.prompt":                        false,
		"input.mime_type":                               false,
		"gen_ai.prompt_cache_key":                       false,
		"session.id":                                    false,
		"agentpulse.session_id":                         false,
		"llm.invocation_parameters":                     false,
		"gen_ai.completion_tokens":                      false,
		"langfuse.observation.input":                    true,
		"traceloop.association.properties.session_id":   false,
		"pydantic_ai.all_messages":                      true,
		"gen_ai.tool.call.arguments":                    true,
		"openinference.span.kind":                       false,
		"llm.input_messages":                            false, // only its flattened children exist
		"llm.output_messages.0.message.contents.0.text": true,
	} {
		assert.Equal(t, want, IsContentAttribute(key), key)
	}
}

// Every fixture keeps its call events, token counts and costs when its
// content is stripped after Annotate, and yields the same message events
// without content; no content attribute or event is left.
func TestStripContentFixtures(t *testing.T) {
	requireFixtureDir(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			td := loadFixture(t, name)
			out := mapFixture(t, td)
			for i := range out {
				e := &out[i].Event
				delete(e.Properties, "content")
				// The processor takes a reported cost as the call's cost.
				if c, ok := e.Properties["cost_usd"].(float64); ok && out[i].Call {
					e.CostUSD, e.CostStatus = &c, "reported"
				}
			}
			want := eventsByID(out)

			Annotate(td, out)
			forEachSpan(td, func(sp ptrace.Span) { StripContent(sp) })
			forEachSpan(td, func(sp ptrace.Span) {
				for k := range sp.Attributes().All() {
					assert.False(t, IsContentAttribute(k), "%s left on %s", k, sp.Name())
				}
				for _, ev := range sp.Events().All() {
					assert.False(t, IsContentEvent(ev.Name()), "%s left on %s", ev.Name(), sp.Name())
				}
			})

			again := mapFixture(t, td)
			assert.Equal(t, want, eventsByID(again))
		})
	}
}

func forEachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				fn(sp)
			}
		}
	}
}
