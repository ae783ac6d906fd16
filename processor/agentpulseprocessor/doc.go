// Package agentpulseprocessor provides the agentpulse processor. It reads
// AgentPulse events carried as log records, or maps them from GenAI spans
// (internal/genai), assigns server-side sessions to events that arrive
// without a session id, prices LLM and tool calls, converts payments to US
// dollars, classifies topics and applies each product's content policy,
// then writes the events back into the records, or annotates the spans and
// removes the content a product does not keep from them before passing
// them on.
package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"
