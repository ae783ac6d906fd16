package genai

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentpulse/agentpulse/internal/event"
)

const (
	llm  = event.TypeLLMCall
	tool = event.TypeToolCall
	user = event.TypeMessageUser
	bot  = event.TypeMessageAgent
)

// fixtureTests has one test per file of the shared fixture folder;
// TestFixtures fails on a file without one.
var fixtureTests = map[string]func(*testing.T, ptrace.Traces){
	"otel-genai-semconv-example-chat-tool-call.json":            testOTelSemconvExample,
	"openinference-js-openai-runtools-tool-calls.json":          testOpenInferenceRunTools,
	"openinference-js-openai-chat-cached-tokens.json":           testOpenInferenceCachedTokens,
	"openinference-phoenix-pxi-agent-turn-llm-tool-loop.json":   testPhoenixAgentTurn,
	"openinference-phoenix-pxi-session-three-traces.json":       testPhoenixSessionThreeTraces,
	"openllmetry-openai-chat-v0.33.9-indexed-prompt-attrs.json": testOpenLLMetryIndexedPrompt,
	"openllmetry-langchain-association-properties.json":         testOpenLLMetryAssociationProperties,
	"vercel-ai-sdk-v7-genai-invoke-agent-chat-tool.json":        testVercelV7,
	"vercel-ai-sdk-legacy-streamtext-two-steps-tool-call.json":  testVercelLegacyStreamText,
	"vercel-ai-sdk-v6-generatetext-function-id-metadata.json":   testVercelV6GenerateText,
	"langfuse-sdk-python-generation-trace-attrs.json":           testLangfuseSDK,
	"logfire-openai-agents-handoff-tool-call.json":              testLogfireOpenAIAgents,
	"openlit-openai-chat-v1.27-cost-content-events.json":        testOpenLIT,
	"semantic-kernel-chat-deprecated-genai-span-events.json":    testSemanticKernel,
	"pydantic-ai-agent-run-root-span.json":                      testPydanticAIRootSpan,
}

func TestFixtures(t *testing.T) {
	requireFixtureDir(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			test, ok := fixtureTests[name]
			if !ok {
				t.Fatalf("fixture %s has no test in fixtureTests", name)
			}
			test(t, loadFixture(t, name))
		})
	}
}

// Three spans under a parent missing from the payload: chat (tool call
// answer), execute_tool, chat (text answer); structured kvlist messages.
func testOTelSemconvExample(t *testing.T, td ptrace.Traces) {
	const trace = "781751c9112b64891b38014f963d387b"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 2, tool: 1, user: 1, bot: 1}, countTypes(out))
	assertCalls(t, out, trace, []call{
		// gen_ai.usage.input_tokens 47 / output_tokens 17, OpenAI: nothing to add.
		{"f39704d4553025dc", llm, 1735689600000000000, map[string]any{
			"model": "gpt-4-0613", "request_model": "gpt-4", "provider": "openai",
			"input_tokens": int64(47), "output_tokens": int64(17),
			"duration_ms": float64(1735689600800000000-1735689600000000000) / 1e6, "status": "ok",
		}},
		{"5208814f62a58763", tool, 1735689601000000000, map[string]any{
			"tool_name": "get_weather", "duration_ms": 800.0, "status": "ok",
		}},
		// The second chat span has no gen_ai.operation.name: classified by its model.
		{"2a7beb0c54a24499", llm, 1735689602000000000, map[string]any{
			"model": "gpt-4-0613", "request_model": "gpt-4", "provider": "openai",
			"input_tokens": int64(97), "output_tokens": int64(52), "duration_ms": 800.0, "status": "ok",
		}},
	})
	// The second request ends with the tool result: no new user message. The
	// first response is a tool call only: no agent message.
	assertMessages(t, out, trace, []msg{
		{user, "Weather in Paris?", 1735689600000000000},
		{bot, "The weather in Paris is currently rainy with a temperature of 57°F.", 1735689602800000000},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// Three OpenAI calls of one runTools loop, no parent spans, no tool spans.
func testOpenInferenceRunTools(t *testing.T, td ptrace.Traces) {
	const trace = "435cf74e465b0d467b83ee72066d7434"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 3, user: 1, bot: 1}, countTypes(out))
	props := func(in, out int64) map[string]any {
		// llm.model_name is the responded model; the request's is in
		// llm.invocation_parameters.
		return map[string]any{
			"model": "gpt-3.5-turbo-0613", "request_model": "gpt-3.5-turbo", "provider": "openai",
			"input_tokens": in, "output_tokens": out, "duration_ms": 900.0, "status": "ok",
		}
	}
	assertCalls(t, out, trace, []call{
		{"3e13ec91c6af1993", llm, 1735689600000000000, props(70, 7)},
		{"7ed64a9b7f1733fd", llm, 1735689602000000000, props(86, 15)},
		{"b6671f2eca85d294", llm, 1735689604000000000, props(121, 20)},
	})
	assertMessages(t, out, trace, []msg{
		{user, "How is the weather this week?", 1735689600000000000},
		{bot, "The weather in Boston this week is expected to be rainy with a temperature of 52 degrees.", 1735689604900000000},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

func testOpenInferenceCachedTokens(t *testing.T, td ptrace.Traces) {
	const trace = "1ea8c6c3908f45244bcb77bf361ce6f4"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	// prompt 12 includes the 1 cached token (OpenAI; prompt 12 + completion 5 = total 17).
	assertCalls(t, out, trace, []call{
		{"325672591fb2dae8", llm, 1735689600000000000, map[string]any{
			"model": "gpt-4o-mini", "request_model": "gpt-4o-mini", "provider": "openai",
			"input_tokens": int64(12), "cached_input_tokens": int64(1), "output_tokens": int64(5),
			"duration_ms": 700.0, "status": "ok",
		}},
	})
	assertMessages(t, out, trace, []msg{
		{user, "Say this is a test", 1735689600000000000},
		{bot, "This is a test.", 1735689600700000000},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// One agent turn: an AGENT root with 9 Anthropic LLM calls and 8 tools.
func testPhoenixAgentTurn(t *testing.T, td ptrace.Traces) {
	const trace = "214cb18bdeb04ebd71b0ff3537e03c7b"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 9, tool: 8, user: 1, bot: 2}, countTypes(out))

	// Token counts as the fixture's LLM spans report them.
	rows := []struct {
		span                                   string
		start                                  int64
		prompt, completion, read, write, total int64
	}{
		{"b7cedb2be14ae707", 1783555201, 32321, 119, 31559, 760, 32440},
		{"f37e7063f2f02a50", 1783555205, 33286, 168, 32319, 965, 33454},
		{"1312955d3d2895bc", 1783555209, 33789, 402, 33284, 503, 34191},
		{"a1a23729e4bbb3bf", 1783555213, 34248, 212, 33787, 459, 34460},
		{"e58ca25eb82c28a4", 1783555217, 34504, 102, 34246, 256, 34606},
		{"de753c8e1e48c7c9", 1783555221, 34743, 406, 34502, 239, 35149},
		{"9ff5ca9ed5b58029", 1783555225, 35446, 104, 34741, 703, 35550},
		{"33e961cd5a1e7e91", 1783555229, 35602, 196, 35444, 156, 35798},
		{"a7df0dedc8cee004", 1783555233, 36283, 186, 35600, 681, 36469},
	}
	var calls []call
	for _, r := range rows {
		// OpenInference's prompt count already includes the cache reads and
		// writes although the provider is Anthropic: prompt + completion is
		// the reported total, and the prompt exceeds read + write.
		require.Equal(t, r.total, r.prompt+r.completion)
		require.Greater(t, r.prompt, r.read+r.write)
		calls = append(calls, call{r.span, llm, r.start * 1e9, map[string]any{
			"model": "claude-fable-5", "provider": "anthropic",
			"input_tokens": r.prompt, "output_tokens": r.completion,
			"cached_input_tokens": r.read, "cache_creation_input_tokens": r.write,
			"duration_ms": 1000.0, "status": "ok",
		}})
	}
	toolProps := func(name string) map[string]any {
		return map[string]any{"tool_name": name, "duration_ms": 1000.0, "status": "ok"}
	}
	failed := toolProps("add_spans_to_dataset")
	failed["status"] = "error"
	failed["error"] = `Error fetching GraphQL query 'exampleMutation' with variables '{"input": {"datasetId": "fixture-dataset-4", "spanIds": ["fx-otel-span-1"]}}': [{"message": "an unexpected error occurred"}]`
	calls = append(calls,
		call{"f8191a592313f621", tool, 1783555203e9, toolProps("list_datasets")},
		call{"79b5228181304c61", tool, 1783555207e9, toolProps("list_datasets")},
		call{"878d1af62268ca2d", tool, 1783555211e9, toolProps("ask_user")},
		call{"715531f490dd3932", tool, 1783555215e9, toolProps("create_dataset")},
		call{"f6a395b1e5c345f1", tool, 1783555219e9, failed},
		call{"c147097984877a0d", tool, 1783555223e9, toolProps("bash")},
		call{"f557a2a0d22528c1", tool, 1783555227e9, toolProps("add_spans_to_dataset")},
		call{"f7abcae961da7350", tool, 1783555231e9, toolProps("get_route_info")},
	)
	assertCalls(t, out, trace, calls)

	// The user's question is on the AGENT root (text/plain) and ends the
	// first LLM request: one event, at the root's start. The history's
	// earlier turn ("what happened in this trace?") is not new. The final
	// answer is on the root's output and the last LLM call: one event, at
	// the earlier time (the LLM call's end).
	assertMessages(t, out, trace, []msg{
		{user, "can you save this trace to a dataset?", 1783555200e9},
		{bot, "Done! I created the dataset [`golden_examples`](/datasets/fixture-dataset-4/examples) and added this trace's root span as its first example.", 1783555234e9},
		{bot, "The first attempt failed - let me look up the span's node ID and retry.", 1783555222e9},
	})
	// Tool spans carry only session.id; the user comes from the root.
	assertIdentity(t, out, "fixture-session", "user-0001")
}

// Three traces of one session whose span ids repeat (1, 2, 3... in each).
func testPhoenixSessionThreeTraces(t *testing.T, td ptrace.Traces) {
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 16, tool: 12, user: 3, bot: 2}, countTypes(out))

	perTrace := map[string]map[string]int{}
	ids := map[string]bool{}
	for _, m := range out {
		tr := m.TraceID.String()
		if perTrace[tr] == nil {
			perTrace[tr] = map[string]int{}
		}
		perTrace[tr][m.Event.EventType]++
		assert.False(t, ids[m.Event.EventID], "duplicate id %s", m.Event.EventID)
		ids[m.Event.EventID] = true
		if m.Call {
			assert.Equal(t, tr+"-"+m.SpanID.String(), m.Event.EventID)
		}
		if m.Event.EventType == llm {
			// No llm.model_name and no token counts: nothing is guessed.
			assert.Equal(t, map[string]any{"duration_ms": 1000.0, "status": "ok"}, m.Event.Properties)
		}
	}
	assert.Equal(t, map[string]map[string]int{
		"00000000000000000015bfc9bdc170aa": {llm: 5, tool: 4, user: 1, bot: 1},
		// The root has no output and the LLM bodies are not JSON: no agent message.
		"000000000000000003e86c1ad72fb951": {llm: 6, tool: 4, user: 1},
		"00000000000000001bf57a831f82dc02": {llm: 5, tool: 4, user: 1, bot: 1},
	}, perTrace)

	assertMessages(t, out, "000000000000000003e86c1ad72fb951", []msg{{user, "redacted input", 1784894400e9}})
	assertEqualToolNames(t, out, "00000000000000001bf57a831f82dc02", []string{
		"update_annotation_config", "ask_user", "update_annotation_config", "batch_span_annotate",
	})
	// session.id without a user: the user is the session's anonymous user,
	// so the three traces stay one user's session.
	assertIdentity(t, out, "session-0000", AnonymousPrefix+"session-0000")
}

func assertEqualToolNames(t *testing.T, out []Mapped, trace string, want []string) {
	t.Helper()
	var got []string
	for _, m := range out {
		if m.Event.EventType == tool && m.TraceID.String() == trace {
			got = append(got, m.Event.Properties["tool_name"].(string))
		}
	}
	assert.Equal(t, want, got)
}

// OpenLLMetry 0.33.9: indexed gen_ai.prompt.N / gen_ai.completion.N and the
// pre-1.27 token names.
func testOpenLLMetryIndexedPrompt(t *testing.T, td ptrace.Traces) {
	const trace = "e4ef45025c9b40924bff175e2b125b5b"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	// gen_ai.usage.prompt_tokens 14 + completion_tokens 173 = llm.usage.total_tokens 187.
	assertCalls(t, out, trace, []call{
		{"aabf16e416ae4952", llm, 1738144119909093908, map[string]any{
			"model": "gpt-3.5-turbo-0125", "request_model": "gpt-3.5-turbo", "provider": "openai",
			"input_tokens": int64(14), "output_tokens": int64(173),
			"duration_ms": float64(1738144121353287966-1738144119909093908) / 1e6, "status": "ok",
		}},
	})
	assertMessages(t, out, trace, []msg{
		{user, "What is LLM Observability?", 1738144119909093908},
		{bot, spanAttr(t, td, "aabf16e416ae4952", "gen_ai.completion.0.content"), 1738144121353287966},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// Assertion-derived LangChain spans: only the association properties, the
// session id an int.
func testOpenLLMetryAssociationProperties(t *testing.T, td ptrace.Traces) {
	const trace = "1591acb3b55f3f4b443ec0a5cd14067b"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1}, countTypes(out))
	// ChatOpenAI.chat is the model span (OpenLLMetry naming); it carries no
	// model or usage, so it will be priced as unpriced, never guessed.
	assertCalls(t, out, trace, []call{
		{"a444c701fb6d05d8", llm, 1735689600007000000, map[string]any{
			"duration_ms": float64(1735689600900000000-1735689600007000000) / 1e6, "status": "ok",
		}},
	})
	assertIdentity(t, out, "456", "1234")
}

// AI SDK v7: invoke_agent > step > (chat, execute_tool).
func testVercelV7(t *testing.T, td ptrace.Traces) {
	const trace = "63ed887a734c3feda640af6402648e4b"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, tool: 1, user: 1, bot: 1}, countTypes(out))
	// input 10 = noCacheTokens 7 + cache_read 2 + cache_creation 1 (inclusive);
	// output 20 = textTokens 15 + reasoningTokens 5 (inclusive).
	assertCalls(t, out, trace, []call{
		{"be955833f9e63761", llm, 1735689600020000000, map[string]any{
			"model": "gpt-4", "request_model": "gpt-4", "provider": "openai",
			"input_tokens": int64(7 + 2 + 1), "cached_input_tokens": int64(2), "cache_creation_input_tokens": int64(1),
			"output_tokens": int64(15 + 5), "reasoning_tokens": int64(5),
			"duration_ms": float64(1735689601500000000-1735689600020000000) / 1e6, "status": "ok",
		}},
		{"2dc5058d14ff3d75", tool, 1735689601600000000, map[string]any{
			"tool_name": "myTool", "duration_ms": 42.0, "status": "ok",
		}},
	})
	// The user message is on invoke_agent only; the answer on invoke_agent
	// and chat, kept once at chat's end.
	assertMessages(t, out, trace, []msg{
		{user, "Hello", 1735689600000000000},
		{bot, "Hello world", 1735689601500000000},
	})
	// ai.settings.context.userId is on invoke_agent and step, not on chat or
	// execute_tool: found on the ancestors.
	assertIdentity(t, out, "", "user-123")
}

// Legacy ai.* spans: streamText > (doStream, toolCall, doStream).
func testVercelLegacyStreamText(t *testing.T, td ptrace.Traces) {
	const trace = "461b84e86c19f196c95e5adae5002181"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 2, tool: 1, user: 1, bot: 1}, countTypes(out))
	assertCalls(t, out, trace, []call{
		// The ai.streamText wrapper sums both steps (input 6 = 3+3) and is
		// not a call of its own.
		{"fb26b65ef778a23f", llm, 1735689600000000000, map[string]any{
			"model": "mock-model-id", "request_model": "mock-model-id", "provider": "mock-provider",
			"input_tokens": int64(3), "output_tokens": int64(10), "duration_ms": 500.0, "status": "ok",
		}},
		{"a8a2c6b0705578f7", tool, 1735689600510000000, map[string]any{
			"tool_name": "tool1", "duration_ms": 10.0, "status": "ok",
		}},
		// reasoningTokens 10 with outputTokens 10: totalTokens 13 = 3 + 10
		// says the output already includes them.
		{"21fb5f8c3adfcc0d", llm, 1735689600600000000, map[string]any{
			"model": "mock-model-id", "request_model": "mock-model-id", "provider": "mock-provider",
			"input_tokens": int64(3), "cached_input_tokens": int64(0), "cache_creation_input_tokens": int64(0),
			"output_tokens": int64(13 - 3), "reasoning_tokens": int64(10),
			"duration_ms": 400.0, "status": "ok",
		}},
	})
	assertMessages(t, out, trace, []msg{
		{user, "test-input", 1735689600000000000},
		{bot, "Hello, world!", 1735689601000000000},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

func testVercelV6GenerateText(t *testing.T, td ptrace.Traces) {
	const trace = "6b12ae19f91ad1d85f614d374a220a89"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	assertCalls(t, out, trace, []call{
		{"bfd363293a352a9c", llm, 1735689600005000000, map[string]any{
			"model": "test-response-model-id", "request_model": "mock-model-id", "provider": "mock-provider",
			"input_tokens": int64(3), "output_tokens": int64(10),
			"duration_ms": float64(1735689601190000000-1735689600005000000) / 1e6, "status": "ok",
		}},
	})
	assertMessages(t, out, trace, []msg{
		{user, "prompt", 1735689600000000000},
		{bot, "Hello, world!", 1735689601190000000},
	})
	// ai.telemetry.metadata has test1/test2 but no sessionId or userId.
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

func testLangfuseSDK(t *testing.T, td ptrace.Traces) {
	const trace = "2cce18f7e8cd065a0b4e634eef728391"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	m := byID(t, out, trace+"-57f02554179741bd")
	// cost_details {"input_tokens": 0.0001, "output_tokens": 0.002} has no
	// total: its parts are summed.
	assert.InDelta(t, 0.0001+0.002, m.Event.Properties["cost_usd"], 1e-12)
	delete(m.Event.Properties, "cost_usd")
	assert.Equal(t, map[string]any{
		"model": "gpt-4o", "input_tokens": int64(123), "output_tokens": int64(456),
		"duration_ms": float64(1746026930686764000-1746026930686364000) / 1e6,
		"status":      "ok", // level WARNING is not an error
	}, m.Event.Properties)
	assertMessages(t, out, trace, []msg{
		{user, "hello", 1746026930686364000},
		{bot, "what's up?", 1746026930686764000},
	})
	assertIdentity(t, out, "my-session", "my-user")
}

// OpenAI Agents via Logfire: two Responses calls, a function tool, a handoff.
func testLogfireOpenAIAgents(t *testing.T, td ptrace.Traces) {
	const trace = "00000000000000000000000000000001"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 2, tool: 1, user: 1, bot: 1}, countTypes(out))
	props := func(in, out int64) map[string]any {
		// The "usage" JSON reports cached, cache-write and reasoning counts of 0.
		return map[string]any{
			"model": "gpt-4o-2024-08-06", "request_model": "gpt-4o", "provider": "openai",
			"input_tokens": in, "output_tokens": out, "cached_input_tokens": int64(0),
			"cache_creation_input_tokens": int64(0), "reasoning_tokens": int64(0),
			"duration_ms": 1000.0, "status": "ok",
		}
	}
	assertCalls(t, out, trace, []call{
		{"0000000000000009", llm, 5e9, props(0, 0)}, // usage input_tokens 0, output_tokens 0
		{"000000000000000b", tool, 7e9, map[string]any{"tool_name": "random_number", "duration_ms": 1000.0, "status": "ok"}},
		{"0000000000000013", llm, 15e9, props(89, 18)},
	})
	// The "events" attribute holds request and response together; the user
	// message is in both model spans, the text answer only in the second.
	assertMessages(t, out, trace, []msg{
		{user, "Generate a random number then, hand off to agent2.", 5e9},
		{bot, "The random number generated is 4, and it's been handed off to agent2.", 16e9},
	})
	// group_id is "null": no session.
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// OpenLIT 1.27: reported cost and gen_ai.content.* span events.
func testOpenLIT(t *testing.T, td ptrace.Traces) {
	const trace = "ea673708441c2984a54a3e3962d3595f"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	// input 14 + output 96 = gen_ai.usage.total_tokens 110.
	assertCalls(t, out, trace, []call{
		{"b904bffb20be6d7e", llm, 1738074845669299666, map[string]any{
			"model": "gpt-3.5-turbo", "request_model": "gpt-3.5-turbo", "provider": "openai",
			"input_tokens": int64(14), "output_tokens": int64(96), "cost_usd": 0.000151,
			"duration_ms": float64(1738074846843448248-1738074845669299666) / 1e6, "status": "ok",
		}},
	})
	completion := ""
	sp := findSpan(t, td, "b904bffb20be6d7e")
	for _, ev := range sp.Events().All() {
		if ev.Name() == "gen_ai.content.completion" {
			v, _ := ev.Attributes().Get("gen_ai.completion")
			completion = v.Str()
		}
	}
	require.NotEmpty(t, completion)
	assertMessages(t, out, trace, []msg{
		{user, "What is LLM Observability?", 1738074845669299666}, // from "user: What is LLM Observability?"
		{bot, completion, 1738074846843448248},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// Semantic Kernel: no operation name, per-message span events of 1.28-1.36.
func testSemanticKernel(t *testing.T, td ptrace.Traces) {
	const trace = "ea673708441c2984a54a3e3962d3595f"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{llm: 1, user: 1, bot: 1}, countTypes(out))
	assertCalls(t, out, trace, []call{
		{"b904bffb20be6d7e", llm, 1738074845669299666, map[string]any{
			"model":       "gpt-4-0613",
			"duration_ms": float64(1738074846843448248-1738074845669299666) / 1e6, "status": "ok",
		}},
	})
	assertMessages(t, out, trace, []msg{
		{user, "What is the capital of France?", 1738074845669299666},
		{bot, "The capital of France is Paris.", 1738074846843448248},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// Pydantic AI's agent run span alone: its usage sums the run's model calls
// (which are not in this payload), so it is no call; its all_messages hold
// the turn.
func testPydanticAIRootSpan(t *testing.T, td ptrace.Traces) {
	const trace = "abcdef1234567890abcdef1234567890"
	out := mapFixture(t, td)
	assert.Equal(t, map[string]int{user: 1, bot: 1}, countTypes(out))
	assertCalls(t, out, trace, nil)
	// The tool result is a user-role message with a tool_call_response part:
	// not something the user said.
	assertMessages(t, out, trace, []msg{
		{user, "Put my money on square eighteen", 1746026930220515904},
		{bot, "Congratulations! You've won by placing your bet on square eighteen. 🎉", 1746026930221515904},
	})
	assertIdentity(t, out, "", AnonymousPrefix+trace)
}

// Mapping the same payload twice gives the same events: a resent span is
// stored once.
func TestFixturesDeterministic(t *testing.T) {
	requireFixtureDir(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		td1, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		require.NoError(t, err)
		td2, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		require.NoError(t, err)
		first, _ := MapTraces(td1, Options{ProductID: testProduct})
		second, _ := MapTraces(td2, Options{ProductID: testProduct})
		assert.Equal(t, first, second, filepath.Base(f))
	}
}
