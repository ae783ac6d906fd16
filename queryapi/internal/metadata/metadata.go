// Package metadata holds the type and stability of the query API extension.
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

// Type is the extension's type in collector configuration.
var Type = component.MustNewType("agentpulse_query")

// ScopeName is the instrumentation scope of the extension's telemetry.
const ScopeName = "github.com/agentpulse/agentpulse/queryapi"

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelDevelopment
