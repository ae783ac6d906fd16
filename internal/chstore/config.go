package chstore

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
)

// Storage modes.
const (
	ModeEmbedded = "embedded"
	ModeServer   = "server"
)

// Defaults of Config.
const (
	DefaultPath        = "./agentpulse-data"
	DefaultDatabase    = "agentpulse"
	DefaultDialTimeout = 10 * time.Second
	// DefaultMemoryLimitMiB bounds the embedded engine so that, with the
	// Go heap's 512 MiB soft limit, the collector stays under 1.5 GiB.
	DefaultMemoryLimitMiB = 640
	// minMemoryLimitMiB is the least the embedded engine starts with:
	// below it, its caches and one merge do not fit.
	minMemoryLimitMiB = 256
)

// Config says where events are stored: in the embedded engine (chDB, a
// data directory owned by this process) or on a ClickHouse server reached
// with the native protocol. Every component of one process that names the
// same embedded path shares one engine.
type Config struct {
	// Mode is embedded (the default) or server.
	Mode string `mapstructure:"mode"`
	// Path is the embedded engine's data directory.
	Path string `mapstructure:"path"`
	// MemoryLimitMiB bounds the embedded engine's memory (its caches,
	// inserts, merges and queries); a statement that would go beyond it
	// fails and is retried (inserts) or answered 503 (queries).
	MemoryLimitMiB int `mapstructure:"memory_limit_mib"`
	// Database holds the tables; it is created when missing.
	Database string `mapstructure:"database"`

	// Endpoint is the server's host:port of the native protocol (9000,
	// or 9440 with TLS).
	Endpoint string `mapstructure:"endpoint"`
	// Username and Password authenticate to the server.
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
	// Secure connects with TLS.
	Secure bool `mapstructure:"secure"`
	// Cluster would create the tables ON CLUSTER; it is not implemented
	// yet and Validate rejects it.
	Cluster string `mapstructure:"cluster"`
	// DialTimeout bounds connecting to the server.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultConfig is the embedded engine in ./agentpulse-data.
func NewDefaultConfig() Config {
	return Config{
		Mode:           ModeEmbedded,
		Path:           DefaultPath,
		MemoryLimitMiB: DefaultMemoryLimitMiB,
		Database:       DefaultDatabase,
		DialTimeout:    DefaultDialTimeout,
	}
}

var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if !identifierPattern.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf(
			"database: %q is not a valid name; use 1 to 63 letters, digits or underscores, not starting with a digit", c.Database))
	}
	switch c.Mode {
	case ModeEmbedded:
		errs = append(errs, c.validateEmbedded()...)
	case ModeServer:
		errs = append(errs, c.validateServer()...)
	default:
		errs = append(errs, fmt.Errorf("mode: %q is not supported; use %q or %q", c.Mode, ModeEmbedded, ModeServer))
	}
	if c.Cluster != "" {
		errs = append(errs, fmt.Errorf(
			"cluster: %q was given, but ON CLUSTER tables are not supported yet; leave cluster empty "+
				"and create the replicated tables yourself, or use a single server", c.Cluster))
	}
	return errors.Join(errs...)
}

func (c *Config) validateEmbedded() []error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: must be set to the data directory when mode is embedded"))
	} else if strings.ContainsAny(c.Path, "?&") {
		// The engine takes the path in a connection string.
		errs = append(errs, fmt.Errorf("path: %q contains ? or &, which the embedded engine cannot open; choose another directory", c.Path))
	}
	if c.MemoryLimitMiB < minMemoryLimitMiB {
		errs = append(errs, fmt.Errorf("memory_limit_mib: must be at least %d (MiB) in embedded mode, got %d", minMemoryLimitMiB, c.MemoryLimitMiB))
	}
	serverOnly := []struct {
		key string
		set bool
	}{
		{"endpoint", c.Endpoint != ""},
		{"username", c.Username != ""},
		{"password", c.Password != ""},
		{"secure", c.Secure},
	}
	for _, s := range serverOnly {
		if s.set {
			errs = append(errs, fmt.Errorf("%s: only applies when mode is %q, but mode is %q", s.key, ModeServer, c.Mode))
		}
	}
	return errs
}

func (c *Config) validateServer() []error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set to host:port of the native protocol when mode is server"))
	} else if err := checkHostPort(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %q is not host:port: %w", c.Endpoint, err))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dial_timeout: must be positive, got %s", c.DialTimeout))
	}
	return errs
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("host is empty")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}
