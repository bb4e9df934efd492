package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var b64 = base64.RawURLEncoding.EncodeToString

func ed25519JWK(t testing.TB, kid string) map[string]any {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pub)}
}

func p256JWK(t testing.TB, kid string) map[string]any {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := priv.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point[1:33]), "y": b64(point[33:])}
}

func rsaJWK(t testing.TB, kid string, bits int) map[string]any {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "RSA", "kid": kid, "n": b64(priv.N.Bytes()), "e": b64(big.NewInt(int64(priv.E)).Bytes())}
}

func withField(jwk map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, v := range jwk {
		out[k] = v
	}
	out[key] = value
	return out
}

// lookup asks j for the key of a token with this kid (none when empty)
// and alg, as the guard does before verifying the signature.
func lookup(t testing.TB, j *JWKS, kid, alg string) error {
	t.Helper()
	header := map[string]any{"alg": alg}
	if kid != "" {
		header["kid"] = kid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := j.key(ctx, &jwt.Token{Header: header})
	return err
}

// startWith serves a set of exactly these keys and returns a cache that
// has fetched it.
func startWith(t testing.TB, keys ...map[string]any) (*fakeJWKS, *JWKS) {
	t.Helper()
	server := newFakeJWKS(t, keys...)
	j := startJWKS(t, JWKSConfig{URL: server.URL, UnknownKIDInterval: time.Hour})
	waitFor(t, "the first fetch", func() bool { return server.fetches.Load() >= 1 })
	return server, j
}

func TestJWKSUsableKeys(t *testing.T) {
	ed, ec, rs := ed25519JWK(t, "ed"), p256JWK(t, "ec"), rsaJWK(t, "rs", 2048)

	usable := []struct {
		name    string
		jwk     map[string]any
		accepts []string
		refuses []string
	}{
		{"Ed25519", ed, []string{"EdDSA"}, []string{"ES256", "RS256"}},
		{"Ed25519 with alg EdDSA", withField(ed, "alg", "EdDSA"), []string{"EdDSA"}, []string{"ES256"}},
		{"P-256", ec, []string{"ES256"}, []string{"ES384", "ES512", "EdDSA", "RS256"}},
		{"P-256 with use sig", withField(ec, "use", "sig"), []string{"ES256"}, []string{"ES384"}},
		{"RSA without alg: the RSA algorithms", rs, []string{"RS256", "PS256", "RS512"}, []string{"ES256", "EdDSA"}},
		{"RSA with alg PS256: that one only", withField(rs, "alg", "PS256"), []string{"PS256"}, []string{"RS256", "PS384"}},
	}
	for _, tc := range usable {
		t.Run(tc.name, func(t *testing.T) {
			_, j := startWith(t, tc.jwk)
			waitFor(t, "the key", func() bool { return j.size() == 1 })
			kid := tc.jwk["kid"].(string)
			for _, alg := range tc.accepts {
				if err := lookup(t, j, kid, alg); err != nil {
					t.Errorf("%s token: %v", alg, err)
				}
			}
			for _, alg := range tc.refuses {
				if err := lookup(t, j, kid, alg); err == nil {
					t.Errorf("%s token accepted", alg)
				}
			}
		})
	}
}

func TestJWKSRefusesUnusableKeys(t *testing.T) {
	ed, ec, rs := ed25519JWK(t, "ed"), p256JWK(t, "ec"), rsaJWK(t, "rs", 2048)
	offCurve := withField(ec, "y", b64(make([]byte, 32)))

	unusable := []struct {
		name string
		jwk  map[string]any
		alg  string // the algorithm a token would try it with
	}{
		{"encryption key", withField(ec, "use", "enc"), "ES256"},
		{"symmetric key", map[string]any{"kty": "oct", "kid": "oct", "k": b64([]byte("a shared secret"))}, "HS256"},
		{"X25519 key", withField(ed, "crv", "X25519"), "EdDSA"},
		{"Ed25519 key of the wrong length", withField(ed, "x", b64(make([]byte, 31))), "EdDSA"},
		{"Ed25519 key with alg ES256, as EdDSA", withField(ed, "alg", "ES256"), "EdDSA"},
		{"Ed25519 key with alg ES256, as ES256", withField(ed, "alg", "ES256"), "ES256"},
		{"EC point off the curve", offCurve, "ES256"},
		{"P-256 key with alg ES384, as ES256", withField(ec, "alg", "ES384"), "ES256"},
		{"P-256 key with alg ES384, as ES384", withField(ec, "alg", "ES384"), "ES384"},
		{"EC key with short coordinates", withField(ec, "x", b64(make([]byte, 31))), "ES256"},
		{"unknown curve", withField(ec, "crv", "secp256k1"), "ES256"},
		{"RSA key of 1024 bits", rsaJWK(t, "weak", 1024), "RS256"},
		{"RSA key with alg HS256, as HS256", withField(rs, "alg", "HS256"), "HS256"},
		{"RSA key with alg HS256, as RS256", withField(rs, "alg", "HS256"), "RS256"},
		{"RSA key with an even exponent", withField(rs, "e", b64([]byte{2})), "RS256"},
		{"RSA key with bad base64", withField(rs, "n", "***"), "RS256"},
	}
	for _, tc := range unusable {
		t.Run(tc.name, func(t *testing.T) {
			_, j := startWith(t, tc.jwk)
			if err := lookup(t, j, tc.jwk["kid"].(string), tc.alg); err == nil {
				t.Fatalf("%s token accepted", tc.alg)
			}
			if n := j.size(); n != 0 {
				t.Fatalf("%d usable keys, want none", n)
			}
		})
	}

	for name, body := range map[string]string{"not JSON": "<html>", "no keys array": `{"other":[]}`, "keys not an array": `{"keys":{}}`} {
		t.Run(name, func(t *testing.T) {
			server := newFakeJWKS(t)
			server.setBody(body)
			j := startJWKS(t, JWKSConfig{URL: server.URL, UnknownKIDInterval: time.Hour})
			if err := lookup(t, j, "k1", "EdDSA"); err == nil || j.size() != 0 {
				t.Fatalf("a key was found in %s", body)
			}
		})
	}
}

// fakeJWKS serves a key set on 127.0.0.1, can be taken down, and counts
// fetches.
type fakeJWKS struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]any
	body    string // served instead of keys when set
	down    bool
	fetches atomic.Int64
}

func newFakeJWKS(t testing.TB, keys ...map[string]any) *fakeJWKS {
	t.Helper()
	f := &fakeJWKS{keys: keys}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if f.body != "" {
			_, _ = w.Write([]byte(f.body))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": f.keys})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeJWKS) set(down bool, keys ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if keys != nil {
		f.keys = keys
	}
}

func (f *fakeJWKS) setBody(body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = body
}

func startJWKS(t testing.TB, cfg JWKSConfig) *JWKS {
	t.Helper()
	j := NewJWKS(cfg)
	j.Start()
	t.Cleanup(j.Close)
	return j
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJWKSRetriesInBackgroundUntilReachable(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	server.set(true)
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: 10 * time.Millisecond, UnknownKIDInterval: time.Hour})
	waitFor(t, "a few failed fetches", func() bool { return server.fetches.Load() >= 3 })
	if j.size() != 0 {
		t.Fatalf("keys while down = %d, want 0", j.size())
	}
	server.set(false)
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	if err := lookup(t, j, "k1", "EdDSA"); err != nil {
		t.Fatalf("key after recovery: %v", err)
	}
}

func TestJWKSKeepsKeysWhenARefreshFails(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: 10 * time.Millisecond})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	server.set(true)
	fetched := server.fetches.Load()
	waitFor(t, "failed refreshes", func() bool { return server.fetches.Load() >= fetched+2 })
	if err := lookup(t, j, "k1", "EdDSA"); err != nil {
		t.Fatalf("key while the set is down: %v", err)
	}
}

func TestJWKSUnknownKIDRefreshIsRateLimited(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: time.Hour, UnknownKIDInterval: 200 * time.Millisecond})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	fetched := server.fetches.Load()

	server.set(false, ed25519JWK(t, "k1"), p256JWK(t, "k2"))
	if err := lookup(t, j, "k2", "ES256"); err != nil {
		t.Fatalf("new kid: %v", err)
	}
	for range 5 {
		if err := lookup(t, j, "nope", "ES256"); err == nil {
			t.Fatal("an unknown kid was accepted")
		}
	}
	if got := server.fetches.Load() - fetched; got != 1 {
		t.Fatalf("%d fetches for unknown kids within the interval, want 1", got)
	}
	time.Sleep(250 * time.Millisecond)
	_ = lookup(t, j, "nope", "ES256")
	if got := server.fetches.Load() - fetched; got != 2 {
		t.Fatalf("%d fetches after the interval, want 2", got)
	}
}

func TestJWKSKeyChecks(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "only"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: 20 * time.Millisecond, UnknownKIDInterval: time.Hour})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	if err := lookup(t, j, "only", "ES256"); err == nil {
		t.Fatal("an EdDSA key accepted ES256")
	}
	if err := lookup(t, j, "", "EdDSA"); err != nil {
		t.Fatalf("a token without kid against a set of one key: %v", err)
	}
	server.set(false, ed25519JWK(t, "a"), ed25519JWK(t, "b"))
	waitFor(t, "the new keys", func() bool { return j.size() == 2 })
	if err := lookup(t, j, "", "EdDSA"); err == nil {
		t.Fatal("a token without kid was accepted against a set of two keys")
	}
	if err := lookup(t, j, "only", "EdDSA"); err == nil {
		t.Fatal("a key withdrawn from the set is still accepted")
	}
}

func TestJWKSStartsWithAnUnreachableURL(t *testing.T) {
	server := newFakeJWKS(t)
	url := server.URL
	server.Close() // nothing listens there any more
	j := startJWKS(t, JWKSConfig{URL: url})
	if err := lookup(t, j, "k1", "EdDSA"); err == nil {
		t.Fatal("a key was found in an unreachable set")
	}
}

func TestJWKSRefusesAnOversizedSet(t *testing.T) {
	server := newFakeJWKS(t)
	key, _ := json.Marshal(ed25519JWK(t, "k1"))
	server.setBody(`{"keys":[` + string(key) + `],"padding":"` + strings.Repeat("p", maxJWKSBytes) + `"}`)
	j := startJWKS(t, JWKSConfig{URL: server.URL, UnknownKIDInterval: time.Hour})
	if err := lookup(t, j, "k1", "EdDSA"); err == nil || j.size() != 0 {
		t.Fatal("a key was taken from a set larger than 1 MiB")
	}
}

func TestJWKSCloseStopsRefreshing(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	j := NewJWKS(JWKSConfig{URL: server.URL, RefreshInterval: 5 * time.Millisecond})
	j.Start()
	waitFor(t, "a few refreshes", func() bool { return server.fetches.Load() >= 3 })
	j.Close()
	time.Sleep(20 * time.Millisecond) // a refresh that had begun ends with Close's context
	after := server.fetches.Load()
	time.Sleep(50 * time.Millisecond)
	if got := server.fetches.Load(); got != after {
		t.Fatalf("%d fetches after Close, want none", got-after)
	}
}
