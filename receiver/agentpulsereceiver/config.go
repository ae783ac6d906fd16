package agentpulsereceiver

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/agentpulse/agentpulse/internal/auth"
)

// Config of the AgentPulse receiver.
type Config struct {
	// Server names an agentpulse_query extension whose HTTP listener and
	// keys the receiver shares, so that ingest and queries answer on one
	// port. When unset, the receiver listens on its own endpoint with its
	// own keys.
	Server *component.ID `mapstructure:"server"`

	confighttp.ServerConfig `mapstructure:",squash"`

	// APIKeys is the key set of a receiver with its own endpoint. (The
	// squashed HTTP server settings already use the key "auth" for
	// collector authenticator extensions.)
	APIKeys auth.Config `mapstructure:"api_keys"`

	// MaxEventsPerRequest refuses larger batches whole with 413.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`
	// MaxRequestBytes refuses larger (decompressed) bodies whole with 413.
	MaxRequestBytes int64 `mapstructure:"max_request_bytes"`
	// MaxFutureSkew rejects events whose timestamp is further ahead of the
	// server clock.
	MaxFutureSkew time.Duration `mapstructure:"max_future_skew"`
	// MaxStringBytes truncates longer string values (the event is marked
	// truncated).
	MaxStringBytes int `mapstructure:"max_string_bytes"`
}

var _ component.Config = (*Config)(nil)

// Validate reports every problem of the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Server == nil {
		if c.NetAddr.Endpoint == "" {
			errs = append(errs, errors.New("endpoint: required unless server names an agentpulse_query extension"))
		}
		if len(c.APIKeys.Keys) == 0 {
			errs = append(errs, errors.New("api_keys: at least one key is required unless server is set"))
		} else if err := c.APIKeys.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("api_keys: %w", err))
		}
	} else if len(c.APIKeys.Keys) > 0 {
		errs = append(errs, errors.New("api_keys: not used with server; the keys of the server's extension apply"))
	}
	if c.MaxEventsPerRequest < 1 {
		errs = append(errs, fmt.Errorf("max_events_per_request: must be at least 1, got %d", c.MaxEventsPerRequest))
	}
	if c.MaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_request_bytes: must be at least 1024, got %d", c.MaxRequestBytes))
	}
	if c.MaxFutureSkew <= 0 {
		errs = append(errs, fmt.Errorf("max_future_skew: must be positive, got %s", c.MaxFutureSkew))
	}
	if c.MaxStringBytes < 64 {
		errs = append(errs, fmt.Errorf("max_string_bytes: must be at least 64, got %d", c.MaxStringBytes))
	}
	return errors.Join(errs...)
}
