// Package genai maps GenAI telemetry (OTLP spans and log records) of the
// common instrumentation conventions onto AgentPulse events. It is a pure
// library: the processor calls MapTraces / MapLogs, enriches the events
// (sessions, cost, topics, content policy), and may call Annotate to write
// the results back onto the spans.
//
// Conventions read: OTel GenAI semantic conventions (1.27 to 1.41 names,
// span attributes and events, log events), OpenInference, OpenLLMetry /
// Traceloop, Vercel AI SDK (legacy ai.* spans and v7 gen_ai spans), Langfuse
// SDK, Logfire / OpenAI Agents, Pydantic AI, OpenLIT, Semantic Kernel and
// the agentpulse.* convention of CONVENTION.md.
//
// # What a span becomes
//
// A span's kind is decided by the first of these that names it: an
// operation (gen_ai.operation.name, openinference.span.kind,
// langfuse.observation.type, traceloop.span.kind, llm.request.type, Logfire's
// message template), the Vercel AI SDK operation id, a Pydantic AI agent
// run, gen_ai.tool.name, a gen_ai.request/response.model (Semantic Kernel),
// or OpenLLMetry's "<Class>.chat" span names.
//
//   - A model call (chat, text_completion, generate_content, LLM, generation,
//     ai.*.doGenerate/doStream...) is an action.llm_call. Embeddings and
//     retrieval are not counted.
//   - A tool execution (execute_tool, TOOL, ai.toolCall, traceloop tool,
//     Logfire "Function:" spans) is an action.tool_call.
//   - An agent run (invoke_agent, AGENT, ai.generateText/streamText, Pydantic
//     AI and OpenAI Agents runs) yields messages only: its token counts sum
//     its model calls, which are counted on their own spans.
//   - Wrapper spans (workflow, chain, task, step) yield nothing.
//
// Call events carry duration_ms (end minus start), status ok/error (span
// status ERROR, an error.type attribute or a Langfuse ERROR level) and the
// error text. LLM calls carry model (the responded model, else the
// requested one), request_model, provider (lower case; the Vercel API
// suffix "openai.chat" cut), cost_usd when the convention reports one
// (gen_ai.usage.cost, gen_ai.cost.total_cost, llm.cost.total, Langfuse
// cost_details), and the token counts normalized to the API contract: see
// rawUsage.normalize for when cache reads and writes are added to the input.
//
// # Messages
//
// Model calls and agent runs give message.user and message.agent events
// with content and content_length (characters). A request repeats the
// whole conversation, so only the user messages after its last assistant
// or tool message are new: a request ending with a tool result continues
// the agent loop and holds no user message. The agent's message is the
// first response choice that has text (tool-call-only responses are not
// messages); an agent run's output gives every step's text. Where one list
// holds request and response (Pydantic AI all_messages, Logfire events),
// the last run of user messages and the texts after it are the turn.
//
// A message's id is "<trace_id>-user-<hash>" or "<trace_id>-agent-<hash>",
// the hash over its text: the same message seen on an agent span and on its
// model spans, or in spans and log records, is one event, and a resent
// payload maps to the same ids. User messages take the span's start time,
// agent messages its end; a message seen twice keeps the earliest.
//
// # Ids, sessions and users
//
// A call event's id is CallEventID: "<trace_id>-<span_id>". Business events
// of a span are "<trace_id>-<span_id>-ev<N>", N the span event's index; those
// sent as log records "<trace_id>-<span_id>-log-<hash>" over the record's
// name, time and attributes.
//
// The session id and the user id are looked up on the span, then its
// ancestors in the same payload, then the resource. agentpulse.session_id
// and agentpulse.user_id anywhere on that path win; otherwise the nearest
// level with any convention's attribute (sessionKeys, userKeys) decides.
// Without a session id, SessionID stays empty and the processor sessionizes
// by user. Without a user id, the user is "anonymous:<session id>", else
// "anonymous:<trace id>", so such a session or trace is a user of its own.
// The product is always Options.ProductID.
//
// # Annotations and content
//
// Annotate writes the results of a mapping, once enriched by the processor,
// back onto the spans (see CONVENTION.md): sessions, users, event types and
// costs as span attributes, event ids and dollar amounts on business span
// events, and an agentpulse.message span event per message, without its
// text. MapTraces reads these back, so annotated spans map to the events
// that were annotated, also after StripContent has removed the
// conventions' content attributes and span events (IsContentAttribute,
// IsContentEvent) from them.
//
// # Not mapped
//
// Embedding, retrieval and rerank calls; agent-to-agent handoffs (Logfire
// "Handoff:" spans are not outcome.handoff, which means a handoff to a
// person); errors of agent runs (only model and tool calls carry a status);
// the aggregate usage of agent, turn and workflow spans; response choices
// after the first; a Langfuse generation that wraps another
// instrumentation's model span is counted twice.
package genai
