package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// The JWKS cache is written here rather than taken from the JWT middleware
// (whose JWKSetURLs setup panics when the URL is unreachable at start-up)
// or from keyfunc/v3 (a second JWKS library with its own storage layer, for
// what the standard library does in a page: Better Auth publishes Ed25519,
// P-256 or RSA keys, and crypto/ed25519, crypto/ecdsa and crypto/rsa parse
// them). Owning it also lets every key carry the one algorithm it accepts.

// JWKSConfig configures a JWKS cache.
type JWKSConfig struct {
	URL    string
	Logger *slog.Logger
	// Client fetches the set; its Timeout bounds each fetch. Default: 10s.
	Client *http.Client
	// RefreshInterval is how often a healthy set is fetched again, so a
	// rotated or withdrawn key is noticed. Default: 15 minutes.
	RefreshInterval time.Duration
	// RetryInterval is the first wait after a failed fetch; it doubles up
	// to RefreshInterval. Default: 5 seconds.
	RetryInterval time.Duration
	// UnknownKIDInterval spaces the refreshes that a token with an unknown
	// kid triggers, so a stream of forged kids cannot hammer the frontend.
	// Default: 1 minute.
	UnknownKIDInterval time.Duration
}

// maxJWKSBytes bounds the body read from the JWKS URL.
const maxJWKSBytes = 1 << 20

// JWKS caches the public keys of a JSON Web Key Set. It starts without
// keys and fetches them in the background, so the service starts (and its
// own tokens work) while the key set's host is down; it warns and retries
// until the first fetch succeeds, then refreshes periodically.
type JWKS struct {
	cfg JWKSConfig

	mu   sync.RWMutex
	keys map[string]jwk // by kid

	// fetching holds one token while a fetch runs: one fetch at a time,
	// and requests waiting for it can give up when their context ends.
	fetching     chan struct{}
	lastOnDemand time.Time // guarded by fetching

	stop    context.CancelFunc
	stopped chan struct{}
}

// jwk is one usable verification key and the one algorithm it accepts.
type jwk struct {
	alg string
	key crypto.PublicKey
}

// NewJWKS returns an empty cache; Start begins fetching.
func NewJWKS(cfg JWKSConfig) *JWKS {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 15 * time.Minute
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	if cfg.UnknownKIDInterval <= 0 {
		cfg.UnknownKIDInterval = time.Minute
	}
	return &JWKS{cfg: cfg, keys: map[string]jwk{}, fetching: make(chan struct{}, 1)}
}

// Start fetches the set in the background until Close.
func (j *JWKS) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	j.stop, j.stopped = cancel, make(chan struct{})
	go j.run(ctx)
}

// Close stops the background refreshes and waits for them to end.
func (j *JWKS) Close() {
	if j.stop != nil {
		j.stop()
		<-j.stopped
	}
}

func (j *JWKS) run(ctx context.Context) {
	defer close(j.stopped)
	wait := time.Duration(0)
	failures := 0
	loaded := false
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if err := j.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = min(j.cfg.RetryInterval<<min(failures-1, 16), j.cfg.RefreshInterval)
			j.cfg.Logger.Warn("cannot fetch the JSON Web Key Set: frontend tokens signed with its keys are refused until it is reachable",
				"url", j.cfg.URL, "error", err.Error(), "retry_in", wait.String())
			continue
		}
		if !loaded || failures > 0 {
			j.cfg.Logger.Info("JSON Web Key Set loaded", "url", j.cfg.URL, "keys", j.size())
		}
		loaded, failures, wait = true, 0, j.cfg.RefreshInterval
	}
}

// Key returns the key with this kid if it accepts alg. A kid not in the
// cache triggers a refresh, at most once per UnknownKIDInterval. A token
// without a kid is accepted only when the set holds exactly one key.
func (j *JWKS) Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, found := j.lookup(kid)
	if !found {
		if err := j.refreshForUnknownKID(ctx, kid); err != nil {
			return nil, err
		}
		if k, found = j.lookup(kid); !found {
			return nil, errors.New("no key of the key set has this kid")
		}
	}
	if k.alg != alg {
		return nil, fmt.Errorf("the key accepts %s, not %s", k.alg, alg)
	}
	return k.key, nil
}

func (j *JWKS) lookup(kid string) (jwk, bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if kid == "" {
		if len(j.keys) != 1 {
			return jwk{}, false
		}
		for _, k := range j.keys {
			return k, true
		}
	}
	k, ok := j.keys[kid]
	return k, ok
}

func (j *JWKS) size() int {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return len(j.keys)
}

// refreshForUnknownKID fetches the set again unless that was done less
// than UnknownKIDInterval ago. A request that finds a fetch in progress
// waits for it instead of starting another.
func (j *JWKS) refreshForUnknownKID(ctx context.Context, kid string) error {
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-j.fetching }()
	if _, found := j.lookup(kid); found {
		return nil // the fetch this request waited for brought it
	}
	if time.Since(j.lastOnDemand) < j.cfg.UnknownKIDInterval {
		return errors.New("unknown kid, and the key set was refreshed less than a minute ago")
	}
	j.lastOnDemand = time.Now()
	return j.fetchLocked(ctx)
}

// refresh fetches the set, waiting for a fetch in progress to end first.
func (j *JWKS) refresh(ctx context.Context) error {
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-j.fetching }()
	return j.fetchLocked(ctx)
}

// fetchLocked downloads and parses the set and, if that worked, replaces
// the cached keys. A failed fetch keeps the keys already known.
func (j *JWKS) fetchLocked(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.cfg.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return errors.New("the key set is larger than 1 MiB")
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return err
	}
	if skipped > 0 {
		j.cfg.Logger.Warn("JSON Web Key Set: keys skipped (unsupported type, curve, algorithm or use, or malformed)",
			"url", j.cfg.URL, "skipped", skipped, "usable", len(keys))
	}
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
	return nil
}

// rawJWK is a JSON Web Key as published (RFC 7517, 7518, 8037).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS returns the usable keys of a set by kid, and how many it
// skipped. A key is usable when it is a signature key of a supported type
// whose algorithm is known (from "alg", or implied by the curve).
func parseJWKS(body []byte) (map[string]jwk, int, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("the key set is not valid JSON: %w", err)
	}
	if set.Keys == nil {
		return nil, 0, errors.New(`the key set has no "keys" array`)
	}
	keys := make(map[string]jwk, len(set.Keys))
	skipped := 0
	for _, raw := range set.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			skipped++
			continue
		}
		keys[raw.Kid] = k
	}
	return keys, skipped, nil
}

func parseJWK(raw rawJWK) (jwk, error) {
	if raw.Use != "" && raw.Use != "sig" {
		return jwk{}, errors.New("not a signature key")
	}
	switch raw.Kty {
	case "OKP":
		return parseOKP(raw)
	case "EC":
		return parseEC(raw)
	case "RSA":
		return parseRSA(raw)
	}
	return jwk{}, errors.New("unsupported key type")
}

func parseOKP(raw rawJWK) (jwk, error) {
	if raw.Crv != "Ed25519" || (raw.Alg != "" && raw.Alg != "EdDSA" && raw.Alg != "Ed25519") {
		return jwk{}, errors.New("unsupported OKP key")
	}
	x, err := base64.RawURLEncoding.DecodeString(raw.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return jwk{}, errors.New("malformed Ed25519 key")
	}
	return jwk{alg: "EdDSA", key: ed25519.PublicKey(x)}, nil
}

// ecCurves maps each supported curve to its algorithm and coordinate size.
var ecCurves = map[string]struct {
	curve elliptic.Curve
	alg   string
	size  int
}{
	"P-256": {elliptic.P256(), "ES256", 32},
	"P-384": {elliptic.P384(), "ES384", 48},
	"P-521": {elliptic.P521(), "ES512", 66},
}

func parseEC(raw rawJWK) (jwk, error) {
	c, ok := ecCurves[raw.Crv]
	if !ok || (raw.Alg != "" && raw.Alg != c.alg) {
		return jwk{}, errors.New("unsupported EC key")
	}
	x, errX := base64.RawURLEncoding.DecodeString(raw.X)
	y, errY := base64.RawURLEncoding.DecodeString(raw.Y)
	if errX != nil || errY != nil || len(x) != c.size || len(y) != c.size {
		return jwk{}, errors.New("malformed EC key")
	}
	point := append(append([]byte{4}, x...), y...)
	key, err := ecdsa.ParseUncompressedPublicKey(c.curve, point) // rejects points off the curve
	if err != nil {
		return jwk{}, err
	}
	return jwk{alg: c.alg, key: key}, nil
}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

var rsaAlgs = map[string]bool{"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true}

func parseRSA(raw rawJWK) (jwk, error) {
	alg := raw.Alg
	if alg == "" {
		alg = "RS256" // Better Auth's RSA default
	}
	if !rsaAlgs[alg] {
		return jwk{}, errors.New("unsupported RSA algorithm")
	}
	n, errN := base64.RawURLEncoding.DecodeString(raw.N)
	e, errE := base64.RawURLEncoding.DecodeString(raw.E)
	if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
		return jwk{}, errors.New("malformed RSA key")
	}
	modulus := new(big.Int).SetBytes(n)
	exponent := int(new(big.Int).SetBytes(e).Int64())
	if modulus.BitLen() < minRSABits || exponent < 3 || exponent%2 == 0 {
		return jwk{}, errors.New("weak or malformed RSA key")
	}
	return jwk{alg: alg, key: &rsa.PublicKey{N: modulus, E: exponent}}, nil
}
