package authtest_test

import (
	"crypto"
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

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is a frontend key: its private half signs test tokens, its
// public half is published by a jwksServer.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	signer crypto.Signer
}

func newEdDSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, method: jwt.SigningMethodEdDSA, signer: priv}
}

func newES256Key(t testing.TB, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, method: jwt.SigningMethodES256, signer: priv}
}

func newRS256Key(t testing.TB, kid string) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, method: jwt.SigningMethodRS256, signer: priv}
}

// sign signs claims with k, naming k's kid in the header.
func (k signingKey) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return k.signAs(t, k.kid, claims)
}

// signAs signs claims with k but names kid in the header.
func (k signingKey) signAs(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(k.method, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString(k.signer)
	if err != nil {
		t.Fatalf("sign %s token: %v", k.method.Alg(), err)
	}
	return signed
}

// jwk is k's public half as a JSON Web Key.
func (k signingKey) jwk() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.signer.Public().(type) {
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": k.kid, "x": b64(pub)}
	case *ecdsa.PublicKey:
		point, _ := pub.Bytes() // 0x04 || X || Y
		size := (len(point) - 1) / 2
		return map[string]any{"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": k.kid, "use": "sig",
			"x": b64(point[1 : 1+size]), "y": b64(point[1+size:])}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "alg": "RS256", "kid": k.kid, "use": "sig",
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	}
	panic("unsupported key type")
}

// jwksServer publishes a JSON Web Key Set on 127.0.0.1 and counts the
// fetches. While down it answers 503.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []signingKey
	down    bool
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	t.Helper()
	j := &jwksServer{keys: keys}
	j.Server = httptest.NewServer(http.HandlerFunc(j.serve))
	t.Cleanup(j.Close)
	return j
}

func (j *jwksServer) serve(w http.ResponseWriter, _ *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	set := map[string][]map[string]any{"keys": {}}
	for _, k := range j.keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func (j *jwksServer) setDown(down bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.down = down
}

func (j *jwksServer) publish(k signingKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = append(j.keys, k)
}

// URL of the set.
func (j *jwksServer) setURL() string { return j.URL + "/api/auth/jwks" }
