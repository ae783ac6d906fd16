// Package auth holds the API keys of AgentPulse: product keys (ap_prod_),
// which write and read one product, and dashboard keys (ap_dash_), which
// read every product of one organization. Only SHA-256 hashes of the keys
// are kept in memory and on disk, and they are compared in constant time.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/config/configopaque"
)

// Key prefixes.
const (
	ProductPrefix   = "ap_prod_"
	DashboardPrefix = "ap_dash_"
)

// DefaultOrganization is the organization of keys that name none.
const DefaultOrganization = "default"

// Scope says what a key may do.
type Scope string

// Scopes.
const (
	ScopeProduct   Scope = "product"
	ScopeDashboard Scope = "dashboard"
)

// KeyConfig is one API key.
type KeyConfig struct {
	// Key is the key itself. When empty, a development key is generated
	// into Config.DevKeysDir, printed once, and reused on later starts.
	Key configopaque.String `mapstructure:"key"`
	// KeySHA256 is the hex SHA-256 of the key, to keep the key itself out of
	// configuration files. Scope is then required.
	KeySHA256 string `mapstructure:"key_sha256"`
	// Scope is product or dashboard; taken from the key's prefix when unset.
	Scope Scope `mapstructure:"scope"`
	// Product is the product a product key writes and reads.
	Product string `mapstructure:"product"`
	// Organization groups products for dashboard keys.
	Organization string `mapstructure:"organization"`
}

// Config is the key set of a component.
type Config struct {
	Keys []KeyConfig `mapstructure:"keys"`
	// DevKeysDir is where generated development keys are kept (hashed).
	DevKeysDir string `mapstructure:"dev_keys_dir"`
}

func (k KeyConfig) scope() Scope {
	if k.Scope != "" {
		return k.Scope
	}
	switch {
	case strings.HasPrefix(string(k.Key), DashboardPrefix):
		return ScopeDashboard
	case strings.HasPrefix(string(k.Key), ProductPrefix):
		return ScopeProduct
	case k.Product != "":
		return ScopeProduct
	}
	return ""
}

// Validate reports every problem of the key set. An empty set is valid
// here; the component that needs keys says so.
func (c *Config) Validate() error {
	var errs []error
	needDir := false
	for i, k := range c.Keys {
		s := k.scope()
		switch s {
		case ScopeProduct:
			if k.Product == "" {
				errs = append(errs, fmt.Errorf("keys[%d].product: required for a product key", i))
			}
		case ScopeDashboard:
			if k.Product != "" {
				errs = append(errs, fmt.Errorf("keys[%d].product: a dashboard key reads every product of its organization and names none", i))
			}
		default:
			errs = append(errs, fmt.Errorf("keys[%d].scope: got %q, accepted values are product and dashboard (or a key starting with %s or %s)", i, k.Scope, ProductPrefix, DashboardPrefix))
		}
		key := string(k.Key)
		switch {
		case key != "" && k.KeySHA256 != "":
			errs = append(errs, fmt.Errorf("keys[%d]: set key or key_sha256, not both", i))
		case key != "":
			if want := prefixOf(s); want != "" && !strings.HasPrefix(key, want) {
				errs = append(errs, fmt.Errorf("keys[%d].key: a %s key must start with %s", i, s, want))
			}
			if len(key) < len(ProductPrefix)+16 {
				errs = append(errs, fmt.Errorf("keys[%d].key: must have at least 16 characters after the prefix", i))
			}
		case k.KeySHA256 != "":
			if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != sha256.Size {
				errs = append(errs, fmt.Errorf("keys[%d].key_sha256: must be 64 hex characters", i))
			}
		default:
			needDir = true
		}
	}
	if needDir && c.DevKeysDir == "" {
		errs = append(errs, errors.New("dev_keys_dir: required when a key is left empty (a development key is generated there)"))
	}
	return errors.Join(errs...)
}

func prefixOf(s Scope) string {
	switch s {
	case ScopeProduct:
		return ProductPrefix
	case ScopeDashboard:
		return DashboardPrefix
	}
	return ""
}

// Principal is who a request authenticated as.
type Principal struct {
	Scope        Scope
	Product      string // product keys only
	Organization string
}

type entry struct {
	hash [sha256.Size]byte
	Principal
}

// Store authenticates keys.
type Store struct {
	entries []entry
	orgs    map[string][]string // organization -> products
}

// Errors of Authenticate.
var (
	ErrMissingKey = errors.New("missing API key: send X-API-Key or Authorization: Bearer")
	ErrUnknownKey = errors.New("unknown API key")
)

// New builds the store, generating the development keys that the
// configuration leaves empty. Generated keys are written to out once, when
// they are created.
func New(c Config, out io.Writer) (*Store, error) {
	s := &Store{orgs: map[string][]string{}}
	for i, k := range c.Keys {
		p := Principal{Scope: k.scope(), Product: k.Product, Organization: k.Organization}
		if p.Organization == "" {
			p.Organization = DefaultOrganization
		}
		var h [sha256.Size]byte
		switch {
		case k.Key != "":
			h = sha256.Sum256([]byte(k.Key))
		case k.KeySHA256 != "":
			b, err := hex.DecodeString(k.KeySHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("keys[%d].key_sha256: must be 64 hex characters", i)
			}
			copy(h[:], b)
		default:
			var err error
			if h, err = devKey(c.DevKeysDir, p, out); err != nil {
				return nil, err
			}
		}
		s.entries = append(s.entries, entry{hash: h, Principal: p})
		if p.Product != "" && !slices.Contains(s.orgs[p.Organization], p.Product) {
			s.orgs[p.Organization] = append(s.orgs[p.Organization], p.Product)
		}
	}
	return s, nil
}

// Authenticate finds the principal of the request's key.
func (s *Store) Authenticate(r *http.Request) (Principal, error) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		// The scheme is case-insensitive (RFC 9110).
		if scheme, v, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(v)
		}
	}
	if key == "" {
		return Principal{}, ErrMissingKey
	}
	return s.Lookup(key)
}

// Lookup finds the principal of a key. Every entry is compared, so the time
// taken does not say which entry matched.
func (s *Store) Lookup(key string) (Principal, error) {
	h := sha256.Sum256([]byte(key))
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(h[:], s.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, ErrUnknownKey
	}
	return s.entries[found].Principal, nil
}

// CanRead reports whether p may read product.
func (s *Store) CanRead(p Principal, product string) bool {
	if p.Scope == ScopeProduct {
		return p.Product == product
	}
	return slices.Contains(s.orgs[p.Organization], product)
}

// devKeysFile is the on-disk record of generated keys: hashes only.
type devKeysFile struct {
	Keys map[string]string `json:"keys"` // "<scope>/<organization>/<product>" -> hex sha256
}

var devMu sync.Mutex

// devKey returns the hash of the development key for p, generating and
// printing the key when the directory has none for it yet.
func devKey(dir string, p Principal, out io.Writer) ([sha256.Size]byte, error) {
	devMu.Lock()
	defer devMu.Unlock()

	var h [sha256.Size]byte
	path := filepath.Join(dir, "dev-keys.json")
	id := string(p.Scope) + "/" + p.Organization + "/" + p.Product
	f := devKeysFile{Keys: map[string]string{}}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &f); err != nil {
			return h, fmt.Errorf("failed to read %s (delete it to generate new development keys): %w", path, err)
		}
		if f.Keys == nil {
			f.Keys = map[string]string{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return h, fmt.Errorf("failed to read development keys: %w", err)
	}
	if hx, ok := f.Keys[id]; ok {
		b, err := hex.DecodeString(hx)
		if err != nil || len(b) != sha256.Size {
			return h, fmt.Errorf("%s holds a malformed hash for %s (delete it to generate new development keys)", path, id)
		}
		copy(h[:], b)
		return h, nil
	}

	key := prefixOf(p.Scope) + rand.Text()
	h = sha256.Sum256([]byte(key))
	f.Keys[id] = hex.EncodeToString(h[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return h, fmt.Errorf("failed to create %s: %w", dir, err)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return h, fmt.Errorf("failed to save development keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return h, fmt.Errorf("failed to save development keys: %w", err)
	}
	what := "product " + p.Product
	if p.Scope == ScopeDashboard {
		what = "organization " + p.Organization
	}
	fmt.Fprintf(out, "\nAgentPulse development %s key for %s (shown once; only its hash is kept in %s):\n\n    %s\n\n",
		p.Scope, what, path, key)
	return h, nil
}
