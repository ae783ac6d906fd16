package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	prodKey = "ap_prod_aaaaaaaaaaaaaaaaaaaa"
	dashKey = "ap_dash_bbbbbbbbbbbbbbbbbbbb"
)

func TestLookupAndScopes(t *testing.T) {
	other := sha256.Sum256([]byte("ap_prod_cccccccccccccccccccc"))
	cfg := Config{Keys: []KeyConfig{
		{Key: prodKey, Product: "my-bot", Organization: "acme"},
		{Key: dashKey, Organization: "acme"},
		{KeySHA256: hex.EncodeToString(other[:]), Scope: ScopeProduct, Product: "other-bot", Organization: "globex"},
	}}
	require.NoError(t, cfg.Validate())
	s, err := New(cfg, nil)
	require.NoError(t, err)

	p, err := s.Lookup(prodKey)
	require.NoError(t, err)
	assert.Equal(t, Principal{Scope: ScopeProduct, Product: "my-bot", Organization: "acme"}, p)
	assert.True(t, s.CanRead(p, "my-bot"))
	assert.False(t, s.CanRead(p, "other-bot"))

	d, err := s.Lookup(dashKey)
	require.NoError(t, err)
	assert.Equal(t, ScopeDashboard, d.Scope)
	assert.True(t, s.CanRead(d, "my-bot"))
	assert.False(t, s.CanRead(d, "other-bot"), "other-bot belongs to another organization")

	g, err := s.Lookup("ap_prod_cccccccccccccccccccc")
	require.NoError(t, err)
	assert.Equal(t, "other-bot", g.Product)

	_, err = s.Lookup("ap_prod_dddddddddddddddddddd")
	assert.ErrorIs(t, err, ErrUnknownKey)

	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	_, err = s.Authenticate(req)
	assert.ErrorIs(t, err, ErrMissingKey)
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER  "} {
		req.Header.Set("Authorization", scheme+dashKey)
		d2, err := s.Authenticate(req)
		require.NoError(t, err, scheme)
		assert.Equal(t, d, d2)
	}
	req.Header.Set("Authorization", "Basic "+dashKey)
	_, err = s.Authenticate(req)
	assert.ErrorIs(t, err, ErrMissingKey)
}

func TestValidate(t *testing.T) {
	err := (&Config{Keys: []KeyConfig{
		{Key: "ap_dash_short", Product: "x"},
		{Key: "secret-without-prefix"},
		{KeySHA256: "zz", Scope: ScopeDashboard},
		{Scope: ScopeProduct, Product: "p"},
	}}).Validate()
	require.Error(t, err)
	for _, want := range []string{
		"keys[0].product: a dashboard key reads every product of its organization and names none",
		"keys[0].key: must have at least 16 characters after the prefix",
		`keys[1].scope: got "", accepted values are product and dashboard`,
		"keys[2].key_sha256: must be 64 hex characters",
		"dev_keys_dir: required when a key is left empty",
	} {
		assert.ErrorContains(t, err, want)
	}
}

func TestDevKeysAreGeneratedOnceAndKeptHashed(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DevKeysDir: dir, Keys: []KeyConfig{{Scope: ScopeProduct, Product: "my-bot"}, {Scope: ScopeDashboard}}}
	require.NoError(t, cfg.Validate())

	var out bytes.Buffer
	s, err := New(cfg, &out)
	require.NoError(t, err)
	keys := regexp.MustCompile(`ap_(prod|dash)_[A-Z2-7]{26}`).FindAllString(out.String(), -1)
	require.Len(t, keys, 2, out.String())
	p, err := s.Lookup(keys[0])
	require.NoError(t, err)
	assert.Equal(t, "my-bot", p.Product)

	saved, err := os.ReadFile(filepath.Join(dir, "dev-keys.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(saved), keys[0], "only the hash is kept")
	h := sha256.Sum256([]byte(keys[0]))
	assert.Contains(t, string(saved), hex.EncodeToString(h[:]))

	// A second start reuses the keys and prints nothing.
	out.Reset()
	s2, err := New(cfg, &out)
	require.NoError(t, err)
	assert.Empty(t, out.String())
	_, err = s2.Lookup(keys[1])
	assert.NoError(t, err)
}
