// Package metadata holds the type and stability of the AgentPulse receiver.
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the receiver's configuration name.
var Type = component.MustNewType("agentpulse")

// ScopeName is the instrumentation scope of the receiver's telemetry.
const ScopeName = "github.com/agentpulse/agentpulse/receiver/agentpulsereceiver"

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
