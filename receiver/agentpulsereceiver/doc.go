// Package agentpulsereceiver accepts AgentPulse SDK event batches on
// POST /v1/events, authenticates them with product keys, validates each
// event on its own and passes the valid ones on as log records.
package agentpulsereceiver
