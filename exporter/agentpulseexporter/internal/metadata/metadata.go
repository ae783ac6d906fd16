// Package metadata holds the agentpulse exporter's component type, its
// stability levels and the scope name of its internal telemetry.
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the exporter's configuration key.
var Type = component.MustNewType("agentpulse")

const (
	// ScopeName names the meter of the exporter's internal metrics.
	ScopeName = "github.com/agentpulse/agentpulse/exporter/agentpulseexporter"

	// LogsStability is the stability of the logs pipeline support.
	LogsStability = component.StabilityLevelAlpha

	// TracesStability is the stability of the traces pipeline support.
	TracesStability = component.StabilityLevelAlpha
)
