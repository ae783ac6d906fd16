package queryapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/agentpulse/agentpulse/internal/analytics"
	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/internal/chstore"
	"github.com/agentpulse/agentpulse/queryapi/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:9090"
	cors := confighttp.NewDefaultCORSConfig()
	cors.AllowedOrigins = []string{"https://dashboard.example.com"}
	custom.CORS = configoptional.Some(cors)
	custom.APIKeys = auth.Config{
		DevKeysDir: "/var/lib/agentpulse/keys",
		Keys: []auth.KeyConfig{
			{Key: "ap_prod_0123456789abcdefXYZ", Product: "legal-bot", Organization: "acme"},
			{
				KeySHA256:    "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
				Scope:        auth.ScopeDashboard,
				Organization: "acme",
			},
		},
	}
	custom.Storage.Mode = chstore.ModeServer
	custom.Storage.Endpoint = "clickhouse.internal:9000"
	custom.Storage.Database = "analytics"
	custom.Storage.Username = "agentpulse"
	custom.Storage.Password = "s3cret"
	custom.SessionTimeout = 45 * time.Minute
	custom.QueryTimeout = 10 * time.Second
	custom.DefaultFunnelStages = []analytics.Stage{{Name: "reached"}, {Name: "engaged"}, {Name: "converted"}}
	custom.Products = map[string]ProductConfig{
		"legal-bot": {FunnelStages: []analytics.Stage{
			{Name: "reached"},
			{Name: "engaged", MinConversationDepth: 3},
			{Name: "consult_booked"},
			{Name: "deep_talk", MinConversationDepth: 5},
			{Name: "liked", EventType: "feedback.explicit"},
			{Name: "paid", Converted: true, Outcome: "invoice_sent"},
			{Name: "signed", Outcome: "contract_signed"},
		}},
	}

	tests := []struct {
		id       component.ID
		expected *Config
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), expected: custom},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))

			assert.Equal(t, tt.expected, cfg)
		})
	}

	// The custom configuration is valid as a whole, nested parts included.
	require.NoError(t, confmap.Validate(custom))
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestDefaultConfigNeedsKeys(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:8080", cfg.NetAddr.Endpoint)
	assert.Equal(t, chstore.NewDefaultConfig(), cfg.Storage)
	assert.Equal(t, 30*time.Minute, cfg.SessionTimeout)

	// The only thing a default configuration lacks is a key.
	require.EqualError(t, confmap.Validate(cfg),
		"api_keys::keys: at least one key is required (a key left empty, such as {product: my-bot}, is generated into dev_keys_dir)")

	cfg.APIKeys.Keys = []auth.KeyConfig{{Product: "my-bot"}}
	require.NoError(t, confmap.Validate(cfg))
}

func TestConfigValidate(t *testing.T) {
	valid := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.APIKeys.Keys = []auth.KeyConfig{{Key: "ap_prod_0123456789abcdefXYZ", Product: "my-bot"}}
		return cfg
	}

	tests := []struct {
		name   string
		modify func(*Config)
		errs   []string // every message expected in the joined error
	}{
		{
			name:   "empty endpoint",
			modify: func(c *Config) { c.NetAddr.Endpoint = "" },
			errs:   []string{"endpoint: required, a host:port such as localhost:8080"},
		},
		{
			name: "timeouts",
			modify: func(c *Config) {
				c.SessionTimeout = 0
				c.QueryTimeout = -time.Second
			},
			errs: []string{
				"session_timeout: got 0s, must be a positive duration such as 30m",
				"query_timeout: got -1s, must be a positive duration such as 30s",
			},
		},
		{
			name: "default stages",
			modify: func(c *Config) {
				c.DefaultFunnelStages = []analytics.Stage{
					{Name: "reached"},
					{Name: ""},
					{Name: "Booked Call"},
					{Name: "reached"},
					{Name: "deep", MinConversationDepth: -2},
					{Name: "odd", Outcome: "Not A Slug"},
					{Name: "odd2", EventType: "feedback explicit"},
				}
			},
			errs: []string{
				"default_funnel_stages[1].name: required",
				`default_funnel_stages[2].name: got "Booked Call", must be lowercase letters, digits, '_' or '-'`,
				`default_funnel_stages[3].name: "reached" appears twice; stage names must be unique`,
				"default_funnel_stages[4].min_conversation_depth: got -2, must not be negative",
				`default_funnel_stages[5].outcome: got "Not A Slug"`,
				`default_funnel_stages[6].event_type: got "feedback explicit", must be an event type such as feedback.explicit`,
			},
		},
		{
			name: "products",
			modify: func(c *Config) {
				c.Products = map[string]ProductConfig{
					"":          {FunnelStages: []analytics.Stage{{Name: "reached"}}},
					"legal-bot": {FunnelStages: []analytics.Stage{{Name: "reached"}, {Name: "x y"}}},
					"no-stages": {},
				}
			},
			errs: []string{
				"products: a product_id must not be empty",
				`products::legal-bot::funnel_stages[1].name: got "x y"`,
				"products::no-stages::funnel_stages: required; remove the product to use default_funnel_stages",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.modify(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	require.NoError(t, valid().Validate())
}

func TestStagesOfProduct(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, analytics.DefaultStages(), cfg.stages("any"))

	cfg.DefaultFunnelStages = []analytics.Stage{{Name: "reached"}, {Name: "converted"}}
	custom := []analytics.Stage{{Name: "reached"}, {Name: "consult_booked"}}
	cfg.Products = map[string]ProductConfig{"legal-bot": {FunnelStages: custom}}
	assert.Equal(t, cfg.DefaultFunnelStages, cfg.stages("any"))
	assert.Equal(t, custom, cfg.stages("legal-bot"))

	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.Equal(t, analytics.Options{Stages: custom, SessionTimeout: 30 * time.Minute, Now: now}, cfg.options("legal-bot", now))
}

// TestReadmeExample loads the README's example as a collector would read
// this extension's part of it.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "## Example\n\n```yaml\n")
	require.True(t, ok, "the README has an example")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	// The collector would expand the variable; any valid key does.
	example = strings.ReplaceAll(example, "${env:LEGAL_BOT_KEY}", "ap_prod_0123456789abcdefXYZ")

	path := filepath.Join(t.TempDir(), "example.yaml")
	require.NoError(t, os.WriteFile(path, []byte(example), 0o600))
	cm, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	sub, err := cm.Sub("extensions::agentpulse_query")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))

	assert.Equal(t, "127.0.0.1:8080", cfg.NetAddr.Endpoint)
	assert.Equal(t, "./data/clickhouse", cfg.Storage.Path)
	assert.Len(t, cfg.APIKeys.Keys, 2)
	assert.Equal(t, []analytics.Stage{{Name: "reached"}, {Name: "engaged"}, {Name: "consult_booked"}, {Name: "converted"}},
		cfg.stages("legal-bot"))
	assert.Equal(t, analytics.DefaultStages(), cfg.stages("other-bot"))
}
