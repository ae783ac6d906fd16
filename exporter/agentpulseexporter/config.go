package agentpulseexporter

import (
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/agentpulse/agentpulse/internal/chstore"
)

// Config is the configuration of the agentpulse exporter. Each section
// validates itself: storage (chstore.Config), and exporterhelper's timeout,
// sending_queue and retry_on_failure.
type Config struct {
	// Storage says where events are written. Components of one collector
	// that name the same storage share one engine.
	Storage chstore.Config `mapstructure:"storage"`

	// TimeoutConfig bounds each insert attempt (timeout).
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig batches events across requests before inserting them.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig retries inserts that failed for a reason other than
	// the data itself.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal reads the configuration. A persistent queue
// (sending_queue::storage) cannot wait for results; when one is configured
// and wait_for_result is not set, the default turns to false: the queue on
// disk then keeps accepted events across a restart.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(c); err != nil {
		return err
	}
	if c.QueueConfig.HasValue() && conf.IsSet("sending_queue::storage") && !conf.IsSet("sending_queue::wait_for_result") {
		c.QueueConfig.Get().WaitForResult = false
	}
	return nil
}
