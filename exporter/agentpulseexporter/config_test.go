package agentpulseexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/agentpulse/agentpulse/exporter/agentpulseexporter/internal/metadata"
	"github.com/agentpulse/agentpulse/internal/chstore"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := func() *Config { return createDefaultConfig().(*Config) }
	embedded := defaults()
	embedded.Storage.Path = "/var/lib/agentpulse"
	embedded.Storage.Database = "bot_analytics"

	server := defaults()
	server.Storage = chstore.Config{
		Mode:     chstore.ModeServer,
		Database: "analytics",
		Endpoint: "clickhouse.internal:9440",
		Username: "agentpulse",
		Password: "not-a-real-password",
		Secure:   true,
		// Kept from the defaults; server mode ignores it.
		MemoryLimitMiB: chstore.DefaultMemoryLimitMiB,
		DialTimeout:    5 * time.Second,
	}
	server.Timeout = 10 * time.Second
	queue := server.QueueConfig.Get()
	queue.NumConsumers = 2
	queue.QueueSize = 50_000
	batch := queue.Batch.Get()
	batch.MinSize = 2_000
	batch.MaxSize = 8_000
	batch.FlushTimeout = 50 * time.Millisecond
	server.BackOffConfig.InitialInterval = time.Second
	server.BackOffConfig.MaxInterval = 10 * time.Second
	server.BackOffConfig.MaxElapsedTime = time.Minute

	noQueue := defaults()
	noQueue.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	noQueue.BackOffConfig.Enabled = false

	storageID := component.MustNewIDWithName("file_storage", "queue")
	persistent := defaults()
	persistent.QueueConfig.Get().StorageID = &storageID
	persistent.QueueConfig.Get().WaitForResult = false

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), defaults()},
		{component.NewIDWithName(metadata.Type, "embedded"), embedded},
		{component.NewIDWithName(metadata.Type, "server"), server},
		{component.NewIDWithName(metadata.Type, "no_queue"), noQueue},
		{component.NewIDWithName(metadata.Type, "persistent"), persistent},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := defaults()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			assert.Equal(t, tt.want, cfg)
			assert.NoError(t, confmap.Validate(cfg))
		})
	}
}

func TestPersistentQueueCannotWaitForResult(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "persistent_wait").String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	assert.ErrorContains(t, confmap.Validate(cfg), "wait_for_result")
}

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	require.NoError(t, confmap.Validate(cfg))

	assert.Equal(t, chstore.NewDefaultConfig(), cfg.Storage)
	assert.Equal(t, 30*time.Second, cfg.Timeout)
	assert.True(t, cfg.BackOffConfig.Enabled)
	assert.Zero(t, cfg.BackOffConfig.MaxElapsedTime, "a storage outage is retried until it ends")

	require.True(t, cfg.QueueConfig.HasValue(), "the sending queue is on")
	queue := cfg.QueueConfig.Get()
	assert.True(t, queue.WaitForResult, "a request returns once its batch is stored")
	assert.Equal(t, "items", queue.Sizer.String())
	assert.Equal(t, int64(200_000), queue.QueueSize)
	assert.Equal(t, 4, queue.NumConsumers)
	require.True(t, queue.Batch.HasValue(), "batching across requests is on")
	batch := queue.Batch.Get()
	assert.Equal(t, "items", batch.Sizer.String())
	assert.Equal(t, int64(1_000), batch.MinSize)
	assert.Equal(t, int64(10_000), batch.MaxSize)
	assert.Equal(t, 100*time.Millisecond, batch.FlushTimeout)
}

func TestConfigValidationNamesTheStorageProblem(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Storage.Mode = "cloud"
	cfg.Storage.Cluster = "main"
	err := confmap.Validate(cfg)
	require.Error(t, err)
	assert.ErrorContains(t, err, `storage: mode: "cloud" is not supported`)
	assert.ErrorContains(t, err, "cluster:")
}
