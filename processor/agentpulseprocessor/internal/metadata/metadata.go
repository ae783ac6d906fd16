// Package metadata holds the agentpulse processor's component type, its
// stability levels and the scope name of its internal telemetry.
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the processor's configuration key.
var Type = component.MustNewType("agentpulse")

const (
	// ScopeName names the meter of the processor's internal metrics.
	ScopeName = "github.com/agentpulse/agentpulse/processor/agentpulseprocessor"

	// LogsStability is the stability of the logs pipeline support.
	LogsStability = component.StabilityLevelAlpha

	// TracesStability is the stability of the traces pipeline support.
	TracesStability = component.StabilityLevelAlpha
)
