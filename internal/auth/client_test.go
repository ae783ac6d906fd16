package auth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/client"
)

func TestKeyFromHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string][]string
		want    string
	}{
		{"grpc metadata", map[string][]string{"x-api-key": {prodKey}}, prodKey},
		{"http header", map[string][]string{"X-Api-Key": {" " + prodKey + " "}}, prodKey},
		{"bearer", map[string][]string{"authorization": {"Bearer " + prodKey}}, prodKey},
		{"bearer in lower case", map[string][]string{"authorization": {"bearer  " + prodKey}}, prodKey},
		{"x-api-key wins", map[string][]string{"Authorization": {"Bearer other"}, "X-API-KEY": {prodKey}}, prodKey},
		{"basic is not a key", map[string][]string{"authorization": {"Basic dXNlcjpwYXNz"}}, ""},
		{"empty value", map[string][]string{"x-api-key": {}}, ""},
		{"none", map[string][]string{"content-type": {"application/grpc"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, KeyFromHeaders(tc.headers))
		})
	}
}

func TestPrincipalInClientInfo(t *testing.T) {
	_, ok := ProductFromContext(context.Background())
	assert.False(t, ok)

	// The client's address set by the receiver survives.
	base := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"k": {"v"}})})
	ctx := ContextWithPrincipal(base, Principal{Scope: ScopeProduct, Product: "my-bot", Organization: "acme"})
	product, ok := ProductFromContext(ctx)
	assert.True(t, ok)
	assert.Equal(t, "my-bot", product)

	info := client.FromContext(ctx)
	assert.Equal(t, []string{"v"}, info.Metadata.Get("k"))
	assert.Equal(t, "acme", info.Auth.GetAttribute(AuthAttrOrganization))
	assert.Equal(t, "product", info.Auth.GetAttribute(AuthAttrScope))
	assert.Nil(t, info.Auth.GetAttribute("subject"))
	assert.ElementsMatch(t, []string{AuthAttrProduct, AuthAttrOrganization, AuthAttrScope}, info.Auth.GetAttributeNames())

	// A dashboard principal names no product.
	dash := ContextWithPrincipal(base, Principal{Scope: ScopeDashboard, Organization: "acme"})
	_, ok = ProductFromContext(dash)
	assert.False(t, ok)
}
