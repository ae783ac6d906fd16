package queryapi

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/extension/extensionauth"

	"github.com/agentpulse/agentpulse/internal/auth"
)

var _ extensionauth.Server = (*queryExtension)(nil)

var (
	errAuthNotStarted = errors.New("the agentpulse_query extension has not started")
	errDashboardKey   = errors.New("a dashboard key cannot send telemetry: use a product key (ap_prod_...)")
)

// Authenticate makes the extension a collector authenticator, so that the
// stock receivers (otlp over gRPC or HTTP) accept telemetry with the same
// product keys as the AgentPulse API: X-API-Key or Authorization: Bearer,
// as a header or gRPC metadata. The returned context's client.Info carries
// the key's product (auth.ProductFromContext), which the agentpulse
// processor uses over anything the payload says. Dashboard keys are
// refused, as they are for ingest.
func (e *queryExtension) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	keys := e.keys.Load()
	if keys == nil {
		return ctx, errAuthNotStarted
	}
	key := auth.KeyFromHeaders(headers)
	if key == "" {
		return ctx, auth.ErrMissingKey
	}
	p, err := keys.Lookup(key)
	if err != nil {
		return ctx, err
	}
	if p.Scope != auth.ScopeProduct {
		return ctx, errDashboardKey
	}

	return auth.ContextWithPrincipal(ctx, p), nil
}
