// Package agentpulseexporter provides the agentpulse exporter, which writes
// AgentPulse events (log records encoded by internal/event, or GenAI spans
// annotated by the agentpulse processor) to ClickHouse: the embedded engine
// by default, or a server.
//
// Batching, queueing, retries and timeouts come from exporterhelper. By
// default the sending queue batches events across requests, so that a burst
// of small ingest requests becomes a few large inserts, and each request
// waits for its batch to be written (with a persistent queue, for its events
// to reach the disk), so that an accepted request is stored.
package agentpulseexporter
