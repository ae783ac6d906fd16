// Package agentpulseprocessor provides the agentpulse processor. It reads
// AgentPulse events carried as log records, assigns server-side sessions to
// events that arrive without a session id, prices LLM and tool calls,
// converts payments to US dollars, classifies topics and applies each
// product's content policy, then writes the events back into the records.
package agentpulseprocessor // import "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"
