// Package client is a small typed client for the TaskFlow HTTP API as
// /work/shared/API.md describes it: the service endpoints, tasks, tags and
// account deletion. `taskflow verify` checks live deployments with it, and
// the tests decode the server's answers into its types, so the JSON shape
// of a task, a tag, a page, a session or a problem is written out once.
//
// Every call takes a context and is bounded by the client's per-request
// timeout. An answer with an unexpected status is returned as an *Error
// (decoded from the problem document when there is one); a request that got
// no answer at all is a *TransportError.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// defaultTimeout bounds each request when no other timeout is given.
const defaultTimeout = 10 * time.Second

// maxBodySize caps how much of a response is read: the API's largest answer
// (a page of 100 tasks) is far smaller.
const maxBodySize = 8 << 20

// Client calls one TaskFlow server, optionally as one user. It is safe for
// concurrent use; WithToken returns a copy, so one Client can serve several
// users at once.
type Client struct {
	baseURL *url.URL
	http    *http.Client
	timeout time.Duration
	token   string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through h (for a custom
// transport, proxy or redirect policy). The default is http.DefaultClient.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout bounds every request, from dialling to the last byte of the
// body; zero or less means no limit besides the caller's context.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client for the server at baseURL (scheme and host, and an
// optional path prefix), such as "https://api.example.com".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q must be an http:// or https:// URL", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{baseURL: u, http: http.DefaultClient, timeout: defaultTimeout}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// WithToken returns a copy of c that sends token as its bearer token; an
// empty token sends none.
func (c *Client) WithToken(token string) *Client {
	copied := *c
	copied.token = token
	return &copied
}

// Request is one raw call. Body, when not nil, is sent as JSON: a []byte or
// json.RawMessage is sent as is, anything else is encoded.
type Request struct {
	Method string
	Path   string // from the server's root, such as "/api/v1/tasks"
	Query  url.Values
	Header http.Header
	Body   any
}

// Response is a complete answer, body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req and reads the whole answer, whatever its status. The error is
// a *TransportError when no answer arrived.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	httpReq, err := c.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	callerCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	// tlsPending is true from the start of a TLS handshake until it succeeds.
	var tlsPending atomic.Bool
	httpReq = httpReq.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		TLSHandshakeStart: func() { tlsPending.Store(true) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				tlsPending.Store(false)
			}
		},
	}))
	resp, err := c.http.Do(httpReq)
	if err != nil {
		return nil, c.transportError(callerCtx, httpReq, err, tlsPending.Load())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize))
	if err != nil {
		return nil, c.transportError(callerCtx, httpReq, err, false)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (c *Client) newRequest(ctx context.Context, req Request) (*http.Request, error) {
	u := *c.baseURL
	u.Path = c.baseURL.Path + req.Path
	if len(req.Query) > 0 {
		u.RawQuery = req.Query.Encode()
	}
	var body io.Reader
	if req.Body != nil {
		encoded, err := encodeBody(req.Body)
		if err != nil {
			return nil, fmt.Errorf("encode the body of %s %s: %w", req.Method, req.Path, err)
		}
		body = bytes.NewReader(encoded)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", req.Method, req.Path, err)
	}
	if body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	httpReq.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.token)
	}
	for key, values := range req.Header {
		httpReq.Header[http.CanonicalHeaderKey(key)] = values
	}
	return httpReq, nil
}

func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	}
	return json.Marshal(body)
}

// transportError describes a request that got no answer. When the caller's
// own context ended first, that is the cause, not the server.
func (c *Client) transportError(callerCtx context.Context, req *http.Request, err error, inTLSHandshake bool) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	e := &TransportError{Host: req.URL.Host, Timeout: c.timeout, Err: err, InTLSHandshake: inTLSHandshake}
	if callerErr := callerCtx.Err(); callerErr != nil {
		e.Err, e.Stopped = callerErr, true
	}
	return e
}

// call sends req and expects the status want; the answer's JSON body, if out
// is not nil, is decoded into out. Any other status is an *Error.
func (c *Client) call(ctx context.Context, req Request, want int, out any) (*Response, error) {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Status != want {
		return resp, errorFrom(req, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s %s: the %d answer is not the expected JSON: %w", req.Method, req.Path, resp.Status, err)
		}
	}
	return resp, nil
}
