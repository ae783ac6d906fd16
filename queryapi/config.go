package queryapi

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/auth"
)

// Config is the configuration of the agentpulse_query extension.
//
// The HTTP server settings (endpoint, tls, cors, auth, ...) are confighttp's,
// squashed to the top level; their auth is a collector authenticator
// extension, so the AgentPulse API keys live under api_keys.
type Config struct {
	confighttp.ServerConfig `mapstructure:",squash"`

	// APIKeys is the key set, shared with the components that mount routes
	// on this server.
	APIKeys auth.Config `mapstructure:"api_keys"`
	// Storage is the ClickHouse store the queries run on.
	Storage storageConfig `mapstructure:"storage"`
	// SessionTimeout is the inactivity after which a session counts as
	// ended; it should equal the processor's session_timeout.
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// QueryTimeout bounds each query to the store.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// DefaultFunnelStages is the funnel of products that configure none.
	DefaultFunnelStages []analytics.Stage `mapstructure:"default_funnel_stages"`
	// Products holds per-product settings, keyed by product_id.
	Products map[string]ProductConfig `mapstructure:"products"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ProductConfig is the settings of one product.
type ProductConfig struct {
	// FunnelStages replaces the default funnel for this product.
	FunnelStages []analytics.Stage `mapstructure:"funnel_stages"`
}

var _ component.Config = (*Config)(nil)

var (
	slugPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	eventTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$`)
)

// Validate reports every problem of the configuration. The nested auth,
// storage and HTTP settings validate themselves.
func (c *Config) Validate() error {
	var errs []error
	if c.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: required, a host:port such as localhost:8080"))
	}
	if len(c.APIKeys.Keys) == 0 {
		errs = append(errs, errors.New("api_keys::keys: at least one key is required (a key left empty, such as {product: my-bot}, is generated into dev_keys_dir)"))
	}
	if c.SessionTimeout <= 0 {
		errs = append(errs, fmt.Errorf("session_timeout: got %s, must be a positive duration such as 30m", c.SessionTimeout))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("query_timeout: got %s, must be a positive duration such as 30s", c.QueryTimeout))
	}
	errs = append(errs, validateStages("default_funnel_stages", c.DefaultFunnelStages)...)
	for _, product := range slices.Sorted(maps.Keys(c.Products)) {
		key := "products::" + product
		if product == "" {
			errs = append(errs, errors.New("products: a product_id must not be empty"))
		}
		stages := c.Products[product].FunnelStages
		if len(stages) == 0 {
			errs = append(errs, fmt.Errorf("%s::funnel_stages: required; remove the product to use default_funnel_stages", key))
			continue
		}
		errs = append(errs, validateStages(key+"::funnel_stages", stages)...)
	}

	return errors.Join(errs...)
}

func validateStages(key string, stages []analytics.Stage) []error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range stages {
		at := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: required", at))
		case !slugPattern.MatchString(s.Name):
			errs = append(errs, fmt.Errorf("%s.name: got %q, must be lowercase letters, digits, '_' or '-'", at, s.Name))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q appears twice; stage names must be unique", at, s.Name))
		}
		seen[s.Name] = true

		if s.Outcome != "" && !slugPattern.MatchString(s.Outcome) {
			errs = append(errs, fmt.Errorf("%s.outcome: got %q, must be an outcome name of lowercase letters, digits, '_' or '-' (without the outcome. prefix)", at, s.Outcome))
		}
		if s.EventType != "" && !eventTypePattern.MatchString(s.EventType) {
			errs = append(errs, fmt.Errorf("%s.event_type: got %q, must be an event type such as feedback.explicit", at, s.EventType))
		}
		if s.MinConversationDepth < 0 {
			errs = append(errs, fmt.Errorf("%s.min_conversation_depth: got %d, must not be negative", at, s.MinConversationDepth))
		}
	}

	return errs
}

// stages returns the funnel of a product.
func (c *Config) stages(product string) []analytics.Stage {
	if p, ok := c.Products[product]; ok && len(p.FunnelStages) > 0 {
		return p.FunnelStages
	}
	if len(c.DefaultFunnelStages) > 0 {
		return c.DefaultFunnelStages
	}

	return analytics.DefaultStages()
}

// options are the settings of a product's queries made at now.
func (c *Config) options(product string, now time.Time) analytics.Options {
	return analytics.Options{
		Stages:         c.stages(product),
		SessionTimeout: c.SessionTimeout,
		Now:            now,
	}
}
