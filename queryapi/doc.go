// Package queryapi is the agentpulse_query collector extension. It serves
// the analytics endpoints of the AgentPulse HTTP API (/v1/funnel,
// /v1/sessions, /v1/sessions/{id}, /v1/economics and /v1/topics) from the
// ClickHouse store, authenticates their API keys, and owns the HTTP listener
// on which other AgentPulse components, such as the ingest receiver, mount
// their routes through the apiserver.Server interface.
package queryapi // import "github.com/agentpulse/agentpulse/queryapi"
