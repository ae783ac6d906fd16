// Package metadata holds the agentpulse exporter's component type and its
// stability level.
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the exporter's configuration key.
var Type = component.MustNewType("agentpulse")

// LogsStability is the stability of the logs pipeline support.
const LogsStability = component.StabilityLevelAlpha
