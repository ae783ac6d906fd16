package chstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

func TestDefaultConfig(t *testing.T) {
	cfg := NewDefaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(&cfg))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, Config{
		Mode:           "embedded",
		Path:           "./agentpulse-data",
		MemoryLimitMiB: 640,
		Database:       "agentpulse",
		DialTimeout:    10 * time.Second,
	}, cfg)
}

func TestConfigValidate(t *testing.T) {
	server := func(edit func(*Config)) Config {
		cfg := NewDefaultConfig()
		cfg.Mode = ModeServer
		cfg.Path = ""
		cfg.Endpoint = "clickhouse.internal:9440"
		cfg.Username = "agentpulse"
		cfg.Password = "secret"
		cfg.Secure = true
		if edit != nil {
			edit(&cfg)
		}
		return cfg
	}
	embedded := func(edit func(*Config)) Config {
		cfg := NewDefaultConfig()
		edit(&cfg)
		return cfg
	}
	tests := []struct {
		name string
		cfg  Config
		errs []string
	}{
		{name: "server", cfg: server(nil)},
		{name: "server with ipv6", cfg: server(func(c *Config) { c.Endpoint = "[::1]:9000" })},
		{name: "path is ignored in server mode", cfg: server(func(c *Config) { c.Path = "/data" })},
		{name: "unknown mode", cfg: embedded(func(c *Config) { c.Mode = "cloud" }),
			errs: []string{`mode: "cloud" is not supported; use "embedded" or "server"`}},
		{name: "empty mode", cfg: embedded(func(c *Config) { c.Mode = "" }),
			errs: []string{`mode: "" is not supported`}},
		{name: "embedded without path", cfg: embedded(func(c *Config) { c.Path = "" }),
			errs: []string{"path: must be set"}},
		{name: "path with a query string", cfg: embedded(func(c *Config) { c.Path = "/data?mode=ro" }),
			errs: []string{`path: "/data?mode=ro" contains ? or &`}},
		{name: "memory limit too small", cfg: embedded(func(c *Config) { c.MemoryLimitMiB = 100 }),
			errs: []string{"memory_limit_mib: must be at least 256 (MiB) in embedded mode, got 100"}},
		{name: "memory limit is ignored in server mode", cfg: server(func(c *Config) { c.MemoryLimitMiB = 0 })},
		{name: "bad database", cfg: embedded(func(c *Config) { c.Database = "my-db; DROP" }),
			errs: []string{`database: "my-db; DROP" is not a valid name`}},
		{name: "database starting with digit", cfg: embedded(func(c *Config) { c.Database = "1db" }),
			errs: []string{`database: "1db"`}},
		{name: "empty database", cfg: embedded(func(c *Config) { c.Database = "" }),
			errs: []string{`database: "" is not a valid name`}},
		{name: "server settings in embedded mode", cfg: embedded(func(c *Config) {
			c.Endpoint, c.Username, c.Password, c.Secure = "h:9000", "u", "p", true
		}), errs: []string{
			`endpoint: only applies when mode is "server"`, `username: only applies`,
			`password: only applies`, `secure: only applies`,
		}},
		{name: "server without endpoint", cfg: server(func(c *Config) { c.Endpoint = "" }),
			errs: []string{"endpoint: must be set to host:port"}},
		{name: "endpoint without port", cfg: server(func(c *Config) { c.Endpoint = "clickhouse" }),
			errs: []string{`endpoint: "clickhouse" is not host:port`}},
		{name: "endpoint with bad port", cfg: server(func(c *Config) { c.Endpoint = "h:99999" }),
			errs: []string{`endpoint: "h:99999" is not host:port: port "99999"`}},
		{name: "endpoint without host", cfg: server(func(c *Config) { c.Endpoint = ":9000" }),
			errs: []string{"host is empty"}},
		{name: "dial timeout", cfg: server(func(c *Config) { c.DialTimeout = 0 }),
			errs: []string{"dial_timeout: must be positive, got 0s"}},
		{name: "cluster", cfg: server(func(c *Config) { c.Cluster = "main" }),
			errs: []string{`cluster: "main" was given, but ON CLUSTER tables are not supported yet`}},
		{name: "every problem at once", cfg: server(func(c *Config) {
			c.Endpoint, c.DialTimeout, c.Database, c.Cluster = "", -time.Second, "", "c"
		}), errs: []string{"endpoint: must be set", "dial_timeout: must be positive", "database:", "cluster:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestOpenRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig("x")
	cfg.Mode = "nope"
	_, err := Open(t.Context(), cfg, nil)
	require.ErrorContains(t, err, "invalid storage configuration")
}
