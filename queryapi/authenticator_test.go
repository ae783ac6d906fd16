package queryapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/agentpulse/agentpulse/internal/auth"
	"github.com/agentpulse/agentpulse/queryapi/internal/metadata"
)

func TestAuthenticator(t *testing.T) {
	ext, _ := startExtension(t, newTestConfig(t), nil)
	var server extensionauth.Server = ext

	tests := []struct {
		name    string
		headers map[string][]string
		product string // "" when refused
		err     error
	}{
		{name: "grpc metadata", headers: map[string][]string{"x-api-key": {legalKey}}, product: "legal-bot"},
		{name: "http header", headers: map[string][]string{"X-Api-Key": {rivalKey}}, product: "rival-bot"},
		{name: "bearer", headers: map[string][]string{"authorization": {"Bearer " + otherKey}}, product: "other-bot"},
		{name: "missing key", headers: map[string][]string{"content-type": {"application/grpc"}}, err: auth.ErrMissingKey},
		{name: "unknown key", headers: map[string][]string{"x-api-key": {"ap_prod_nosuchkey0123456789"}}, err: auth.ErrUnknownKey},
		{name: "dashboard key", headers: map[string][]string{"x-api-key": {acmeDashKey}}, err: errDashboardKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := server.Authenticate(t.Context(), tt.headers)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				_, ok := auth.ProductFromContext(ctx)
				assert.False(t, ok)
				return
			}
			require.NoError(t, err)
			product, ok := auth.ProductFromContext(ctx)
			assert.True(t, ok)
			assert.Equal(t, tt.product, product)
		})
	}
}

func TestAuthenticatorBeforeStart(t *testing.T) {
	ext, err := NewFactory().Create(t.Context(), extensiontest.NewNopSettings(metadata.Type), newTestConfig(t))
	require.NoError(t, err)
	_, err = ext.(extensionauth.Server).Authenticate(context.Background(), map[string][]string{"x-api-key": {legalKey}})
	assert.ErrorIs(t, err, errAuthNotStarted)
}
