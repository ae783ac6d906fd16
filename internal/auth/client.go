package auth

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/client"
)

// Attributes of the collector's client.AuthData for a request that
// authenticated with an AgentPulse key (see ContextWithPrincipal).
const (
	AuthAttrProduct      = "agentpulse.product_id"
	AuthAttrOrganization = "agentpulse.organization"
	AuthAttrScope        = "agentpulse.scope"
)

var authAttrNames = []string{AuthAttrProduct, AuthAttrOrganization, AuthAttrScope}

// authData is a principal as the collector's client.AuthData.
type authData struct {
	p Principal
}

var _ client.AuthData = authData{}

func (a authData) GetAttribute(name string) any {
	switch name {
	case AuthAttrProduct:
		return a.p.Product
	case AuthAttrOrganization:
		return a.p.Organization
	case AuthAttrScope:
		return string(a.p.Scope)
	}
	return nil
}

func (a authData) GetAttributeNames() []string {
	return append([]string(nil), authAttrNames...)
}

// ContextWithPrincipal returns ctx with p as the auth data of its
// client.Info, so that the pipeline's components can read who sent the
// request (ProductFromContext).
func ContextWithPrincipal(ctx context.Context, p Principal) context.Context {
	info := client.FromContext(ctx)
	info.Auth = authData{p: p}
	return client.NewContext(ctx, info)
}

// ProductFromContext returns the product of the product key the request
// authenticated with, when an authenticator set one (ContextWithPrincipal).
func ProductFromContext(ctx context.Context) (string, bool) {
	a := client.FromContext(ctx).Auth
	if a == nil {
		return "", false
	}
	s, ok := a.GetAttribute(AuthAttrProduct).(string)
	if !ok || s == "" {
		return "", false
	}
	return s, true
}

// KeyFromHeaders returns the key of X-API-Key, else of Authorization:
// Bearer, from HTTP headers or gRPC metadata (header names are compared
// without case: gRPC sends them in lower case, HTTP canonicalizes them).
func KeyFromHeaders(headers map[string][]string) string {
	var apiKey, authorization string
	for name, values := range headers {
		if len(values) == 0 {
			continue
		}
		switch strings.ToLower(name) {
		case "x-api-key":
			apiKey = strings.TrimSpace(values[0])
		case "authorization":
			authorization = values[0]
		}
	}
	if apiKey != "" {
		return apiKey
	}
	// The scheme is case-insensitive (RFC 9110).
	if scheme, v, ok := strings.Cut(strings.TrimSpace(authorization), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(v)
	}
	return ""
}
