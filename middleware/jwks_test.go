package middleware

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
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

func TestParseJWKS(t *testing.T) {
	ed, ec, rs := ed25519JWK(t, "ed"), p256JWK(t, "ec"), rsaJWK(t, "rs", 2048)
	offCurve := withField(ec, "y", b64(make([]byte, 32)))

	usable := []struct {
		name    string
		jwk     map[string]any
		wantAlg string
	}{
		{"Ed25519", ed, "EdDSA"},
		{"Ed25519 with alg EdDSA", withField(ed, "alg", "EdDSA"), "EdDSA"},
		{"P-256", ec, "ES256"},
		{"P-256 with use sig", withField(ec, "use", "sig"), "ES256"},
		{"RSA defaults to RS256", rs, "RS256"},
		{"RSA with alg PS256", withField(rs, "alg", "PS256"), "PS256"},
	}
	for _, tc := range usable {
		t.Run(tc.name, func(t *testing.T) {
			keys, skipped := parseSet(t, tc.jwk)
			if skipped != 0 || len(keys) != 1 {
				t.Fatalf("got %d keys, %d skipped; want 1 usable", len(keys), skipped)
			}
			for _, k := range keys {
				if k.alg != tc.wantAlg {
					t.Fatalf("alg = %s, want %s", k.alg, tc.wantAlg)
				}
			}
		})
	}

	skippedKeys := []struct {
		name string
		jwk  map[string]any
	}{
		{"encryption key", withField(ec, "use", "enc")},
		{"symmetric key", map[string]any{"kty": "oct", "kid": "oct", "k": b64([]byte("a shared secret"))}},
		{"X25519 key", withField(ed, "crv", "X25519")},
		{"Ed25519 key of the wrong length", withField(ed, "x", b64(make([]byte, 31)))},
		{"Ed25519 key with alg ES256", withField(ed, "alg", "ES256")},
		{"EC point off the curve", offCurve},
		{"P-256 key with alg ES384", withField(ec, "alg", "ES384")},
		{"EC key with short coordinates", withField(ec, "x", b64(make([]byte, 31)))},
		{"unknown curve", withField(ec, "crv", "secp256k1")},
		{"RSA key of 1024 bits", rsaJWK(t, "weak", 1024)},
		{"RSA key with alg HS256", withField(rs, "alg", "HS256")},
		{"RSA key with an even exponent", withField(rs, "e", b64([]byte{2}))},
		{"RSA key with bad base64", withField(rs, "n", "***")},
	}
	for _, tc := range skippedKeys {
		t.Run(tc.name, func(t *testing.T) {
			keys, skipped := parseSet(t, tc.jwk)
			if skipped != 1 || len(keys) != 0 {
				t.Fatalf("got %d keys, %d skipped; want it skipped", len(keys), skipped)
			}
		})
	}

	for name, body := range map[string]string{"not JSON": "<html>", "no keys array": `{"other":[]}`, "keys not an array": `{"keys":{}}`} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := parseJWKS([]byte(body)); err == nil {
				t.Fatalf("parseJWKS(%s) succeeded, want an error", body)
			}
		})
	}
}

func parseSet(t testing.TB, jwks ...map[string]any) (map[string]jwk, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"keys": jwks})
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		t.Fatalf("parseJWKS: %v", err)
	}
	return keys, skipped
}

// fakeJWKS serves a key set on 127.0.0.1, can be taken down, and counts
// fetches.
type fakeJWKS struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]any
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
	j := startJWKS(t, JWKSConfig{URL: server.URL, RetryInterval: 10 * time.Millisecond, UnknownKIDInterval: time.Hour})
	waitFor(t, "a few failed fetches", func() bool { return server.fetches.Load() >= 3 })
	if j.size() != 0 {
		t.Fatalf("keys while down = %d, want 0", j.size())
	}
	server.set(false)
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	if _, err := j.Key(context.Background(), "k1", "EdDSA"); err != nil {
		t.Fatalf("Key after recovery: %v", err)
	}
}

func TestJWKSKeepsKeysWhenARefreshFails(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: 10 * time.Millisecond})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	server.set(true)
	fetched := server.fetches.Load()
	waitFor(t, "failed refreshes", func() bool { return server.fetches.Load() >= fetched+2 })
	if _, err := j.Key(context.Background(), "k1", "EdDSA"); err != nil {
		t.Fatalf("Key while the set is down: %v", err)
	}
}

func TestJWKSUnknownKIDRefreshIsRateLimited(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "k1"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, RefreshInterval: time.Hour, UnknownKIDInterval: 200 * time.Millisecond})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	fetched := server.fetches.Load()

	server.set(false, ed25519JWK(t, "k1"), p256JWK(t, "k2"))
	if _, err := j.Key(context.Background(), "k2", "ES256"); err != nil {
		t.Fatalf("new kid: %v", err)
	}
	for range 5 {
		if _, err := j.Key(context.Background(), "nope", "ES256"); err == nil {
			t.Fatal("an unknown kid was accepted")
		}
	}
	if got := server.fetches.Load() - fetched; got != 1 {
		t.Fatalf("%d fetches for unknown kids within the interval, want 1", got)
	}
	time.Sleep(250 * time.Millisecond)
	_, _ = j.Key(context.Background(), "nope", "ES256")
	if got := server.fetches.Load() - fetched; got != 2 {
		t.Fatalf("%d fetches after the interval, want 2", got)
	}
}

func TestJWKSKeyChecks(t *testing.T) {
	server := newFakeJWKS(t, ed25519JWK(t, "only"))
	j := startJWKS(t, JWKSConfig{URL: server.URL, UnknownKIDInterval: time.Hour})
	waitFor(t, "the keys", func() bool { return j.size() == 1 })
	ctx := context.Background()
	if _, err := j.Key(ctx, "only", "ES256"); err == nil {
		t.Fatal("an EdDSA key accepted ES256")
	}
	if _, err := j.Key(ctx, "", "EdDSA"); err != nil {
		t.Fatalf("a token without kid against a set of one key: %v", err)
	}
	server.set(false, ed25519JWK(t, "a"), ed25519JWK(t, "b"))
	if err := j.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Key(ctx, "", "EdDSA"); err == nil {
		t.Fatal("a token without kid was accepted against a set of two keys")
	}
	if _, err := j.Key(ctx, "only", "EdDSA"); err == nil {
		t.Fatal("a key withdrawn from the set is still accepted")
	}
}

func TestJWKSStartsWithAnUnreachableURL(t *testing.T) {
	server := newFakeJWKS(t)
	url := server.URL
	server.Close() // nothing listens there any more
	j := startJWKS(t, JWKSConfig{URL: url, RetryInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := j.Key(ctx, "k1", "EdDSA"); err == nil {
		t.Fatal("a key was found in an unreachable set")
	}
}
