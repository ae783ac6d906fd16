package queryapi

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/agentpulse/agentpulse/queryapi/internal/metadata"
)

// Defaults of the configuration.
const (
	defaultEndpoint       = "localhost:8080"
	defaultDevKeysDir     = "./data"
	defaultSessionTimeout = 30 * time.Minute
	defaultQueryTimeout   = 30 * time.Second
)

// NewFactory returns the factory of the agentpulse_query extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		createDefaultConfig,
		createExtension,
		metadata.ExtensionStability,
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	cfg := &Config{
		ServerConfig:   server,
		Storage:        defaultStorageConfig(),
		SessionTimeout: defaultSessionTimeout,
		QueryTimeout:   defaultQueryTimeout,
	}
	cfg.APIKeys.DevKeysDir = defaultDevKeysDir

	return cfg
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newQueryExtension(cfg.(*Config), set), nil
}
