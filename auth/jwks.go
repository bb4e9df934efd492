package auth

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// The key set is fetched, parsed and refreshed by jwkset, and keys are
// picked by kid by keyfunc. What this file adds is policy: which keys may
// verify which algorithm, and how often a token may make the service fetch
// the set again.

// JWKSConfig configures a JWKS cache.
type JWKSConfig struct {
	URL    string
	Logger *slog.Logger
	// Client fetches the set; its Timeout bounds each fetch. Default: 10s.
	Client *http.Client
	// RefreshInterval is how often the set is fetched again, so a rotated
	// or withdrawn key is noticed (and a set that could not be fetched is
	// tried again). Default: 15 minutes.
	RefreshInterval time.Duration
	// UnknownKIDInterval spaces the refreshes that a token with an unknown
	// kid triggers, so a stream of forged kids cannot hammer the frontend.
	// Default: 1 minute.
	UnknownKIDInterval time.Duration
}

// maxJWKSBytes bounds the body read from the JWKS URL.
const maxJWKSBytes = 1 << 20

// JWKS caches the public keys of a JSON Web Key Set. It starts without
// keys and fetches them in the background, so the service starts (and its
// own tokens work) while the key set's host is down; a token whose kid is
// not in the cache makes it fetch the set again, at most once per
// UnknownKIDInterval.
type JWKS struct {
	cfg     JWKSConfig
	cache   *keyCache
	keyfunc keyfunc.Keyfunc

	// fetching holds one token while the first fetch or an on-demand
	// refresh runs: requests that need one wait for the one in progress,
	// and can give up when their context ends.
	fetching     chan struct{}
	remote       jwkset.Storage // refreshes on an unknown kid; nil until Start has fetched once. Guarded by fetching.
	lastOnDemand time.Time      // guarded by fetching

	stop    context.CancelFunc
	stopped chan struct{}
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
	if cfg.UnknownKIDInterval <= 0 {
		cfg.UnknownKIDInterval = time.Minute
	}
	j := &JWKS{cfg: cfg, fetching: make(chan struct{}, 1)}
	j.cache = &keyCache{MemoryJWKSet: jwkset.NewMemoryStorage(), url: cfg.URL, log: cfg.Logger}
	// keyfunc cannot fail with a storage given.
	j.keyfunc, _ = keyfunc.New(keyfunc.Options{Storage: onDemand{keyCache: j.cache, jwks: j}})
	return j
}

// Start fetches the set in the background, then every RefreshInterval
// until Close.
func (j *JWKS) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	j.stop, j.stopped = cancel, make(chan struct{})
	j.fetching <- struct{}{} // lookups wait for the first fetch
	go func() {
		defer close(j.stopped)
		defer func() { <-j.fetching }()
		remote, err := j.connect(ctx)
		if err != nil {
			j.cfg.Logger.Error("AUTH_JWKS_URL is not a URL the key set can be fetched from: frontend tokens signed with its keys are refused",
				"error", err.Error())
			return
		}
		j.remote = remote
	}()
}

// Close stops the background refreshes.
func (j *JWKS) Close() {
	if j.stop != nil {
		j.stop()
		<-j.stopped
	}
}

// connect fetches the set once (a failure is logged, not returned) and
// starts jwkset's refreshes, which end with ctx. It returns the storage
// that refreshes the set when asked for a kid it does not hold.
func (j *JWKS) connect(ctx context.Context) (jwkset.Storage, error) {
	client := *j.cfg.Client
	client.Transport = limitedBody{next: client.Transport}
	fetched, err := jwkset.NewStorageFromHTTP(j.cfg.URL, jwkset.HTTPClientStorageOptions{
		Client:                    &client,
		Ctx:                       ctx,
		HTTPTimeout:               cmp.Or(client.Timeout, 10*time.Second),
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       j.cache.fetchFailed,
		RefreshInterval:           j.cfg.RefreshInterval,
		Storage:                   j.cache,
	})
	if err != nil {
		return nil, err
	}
	return jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{j.cfg.URL: fetched},
		// Every refresh it is asked for is allowed: keyRead spaces
		// them, and answers at once when it may not refresh.
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
}

// key returns the key that may verify token: the key of the set with the
// token's kid (or, for a token without kid, the set's only key), provided
// it accepts the token's algorithm (see acceptedAlgs).
func (j *JWKS) key(ctx context.Context, token *jwt.Token) (any, error) {
	key, err := j.keyfunc.KeyfuncCtx(ctx)(token)
	if err != nil {
		return nil, err
	}
	if set, ok := key.(jwt.VerificationKeySet); ok { // the token names no kid
		if len(set.Keys) != 1 || j.size() != 1 {
			return nil, errors.New("a token without kid needs a key set of exactly one key")
		}
		key = set.Keys[0]
	}
	alg, _ := token.Header["alg"].(string)
	if !slices.Contains(acceptedAlgs(key), alg) {
		return nil, fmt.Errorf("the key does not accept %s", alg)
	}
	return key, nil
}

func (j *JWKS) size() int {
	keys, _ := j.cache.KeyReadAll(context.Background())
	return len(keys)
}

// keyRead returns the cached key with this kid; a kid not in the cache
// makes the set be fetched again, unless that was done less than
// UnknownKIDInterval ago. A request that finds a fetch in progress waits
// for it instead of starting another.
func (j *JWKS) keyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	key, err := j.cache.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return key, err
	}
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return jwkset.JWK{}, ctx.Err()
	}
	defer func() { <-j.fetching }()
	if key, err := j.cache.KeyRead(ctx, kid); err == nil {
		return key, nil // the fetch this request waited for brought it
	}
	if j.remote == nil {
		return jwkset.JWK{}, errors.New("the key set is not loaded")
	}
	if time.Since(j.lastOnDemand) < j.cfg.UnknownKIDInterval {
		return jwkset.JWK{}, fmt.Errorf("unknown kid, and the key set was refreshed less than %s ago", j.cfg.UnknownKIDInterval)
	}
	j.lastOnDemand = time.Now()
	return j.remote.KeyRead(ctx, kid)
}

// onDemand is the storage keyfunc reads keys from: the cache, refreshed
// when a kid is not in it (JWKS.keyRead).
type onDemand struct {
	*keyCache
	jwks *JWKS
}

func (o onDemand) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	return o.jwks.keyRead(ctx, kid)
}

// keyCache holds the usable keys of the last set fetched. jwkset replaces
// them after every successful fetch, and keeps them when a fetch fails.
type keyCache struct {
	*jwkset.MemoryJWKSet
	url     string
	log     *slog.Logger
	healthy atomic.Bool // the last fetch worked
}

// KeyReplaceAll keeps the keys of a fresh set that some token may use
// (see usable), and says so in the log when the set loads for the first
// time or again after a failure.
func (k *keyCache) KeyReplaceAll(ctx context.Context, fetched []jwkset.JWK) error {
	keys := slices.DeleteFunc(slices.Clone(fetched), func(key jwkset.JWK) bool { return !usable(key) })
	if skipped := len(fetched) - len(keys); skipped > 0 {
		k.log.Warn("JSON Web Key Set: keys skipped (unsupported type, curve, algorithm or use, or a weak key)",
			"url", k.url, "skipped", skipped, "usable", len(keys))
	}
	if err := k.MemoryJWKSet.KeyReplaceAll(ctx, keys); err != nil {
		return err
	}
	if !k.healthy.Swap(true) {
		k.log.Info("JSON Web Key Set loaded", "url", k.url, "keys", len(keys))
	}
	return nil
}

// fetchFailed is jwkset's RefreshErrorHandler: the keys already known
// stay in use.
func (k *keyCache) fetchFailed(_ context.Context, err error) {
	k.healthy.Store(false)
	k.log.Warn("cannot fetch the JSON Web Key Set: frontend tokens signed with its keys are refused until it is reachable",
		"url", k.url, "error", err.Error())
}

// usable reports whether some token may be verified by key: a signature
// key whose published algorithm, if any, is one its type accepts.
func usable(key jwkset.JWK) bool {
	meta := key.Marshal()
	if meta.USE != "" && meta.USE != jwkset.UseSig {
		return false
	}
	algs := acceptedAlgs(publicKey(key.Key()))
	if meta.ALG != "" {
		return slices.Contains(algs, meta.ALG.String())
	}
	return len(algs) > 0
}

// publicKey is the public half of key, for a set that (wrongly) publishes
// private keys.
func publicKey(key any) any {
	if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return private.Public()
	}
	return key
}

// ecdsaAlgs is the one algorithm of each supported curve.
var ecdsaAlgs = map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}

var rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// acceptedAlgs are the algorithms key may verify, by its type: EdDSA for
// Ed25519, the curve's ES algorithm for ECDSA, the RS and PS algorithms
// for an RSA key that is not weak. A key that publishes its algorithm is
// held to that one as well (by keyfunc). Anything else (a symmetric key,
// X25519, another curve) accepts none.
func acceptedAlgs(key any) []string {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	case *ecdsa.PublicKey:
		if alg, ok := ecdsaAlgs[k.Curve]; ok {
			return []string{alg}
		}
	case *rsa.PublicKey:
		if k.N.BitLen() >= minRSABits && k.E >= 3 && k.E%2 == 1 {
			return rsaAlgs
		}
	}
	return nil
}

// jwksAlgs are the algorithms some key of the JWKS may accept: asymmetric
// ones only.
var jwksAlgs = append([]string{"EdDSA", "ES256", "ES384", "ES512"}, rsaAlgs...)

func isJWKSAlg(alg string) bool { return slices.Contains(jwksAlgs, alg) }

// limitedBody bounds the body of every response to maxJWKSBytes.
type limitedBody struct{ next http.RoundTripper }

func (l limitedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxJWKSBytes)
	return resp, nil
}
