package agentpulsereceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/agentpulse/agentpulse/receiver/agentpulsereceiver/internal/metadata"
)

// Defaults of the API contract.
const (
	defaultMaxEvents      = 1000
	defaultMaxBytes       = 5 << 20
	defaultMaxFutureSkew  = 24 * time.Hour
	defaultMaxStringBytes = 32 << 10
)

// NewFactory returns the factory of the AgentPulse receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		ServerConfig:        confighttp.NewDefaultServerConfig(),
		MaxEventsPerRequest: defaultMaxEvents,
		MaxRequestBytes:     defaultMaxBytes,
		MaxFutureSkew:       defaultMaxFutureSkew,
		MaxStringBytes:      defaultMaxStringBytes,
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(cfg.(*Config), set, next)
}
