package agentpulsereceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/receiver/agentpulsereceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	shared := component.MustNewID("agentpulse_query")
	wantShared := createDefaultConfig().(*Config)
	wantShared.Server = &shared

	wantOwn := createDefaultConfig().(*Config)
	wantOwn.NetAddr.Endpoint = "0.0.0.0:4320"
	wantOwn.APIKeys = auth.Config{Keys: []auth.KeyConfig{{Key: "ap_prod_0123456789abcdefghij", Product: "my-bot"}}}
	wantOwn.MaxEventsPerRequest = 500
	wantOwn.MaxRequestBytes = 1 << 20
	wantOwn.MaxFutureSkew = time.Hour
	wantOwn.MaxStringBytes = 4096

	for id, want := range map[component.ID]*Config{
		component.NewID(metadata.Type):                       wantShared,
		component.NewIDWithName(metadata.Type, "standalone"): wantOwn,
	} {
		t.Run(id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, want, cfg)
		})
	}
}
