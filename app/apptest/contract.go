package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"taskflow/docs"
)

// Contract is the OpenAPI document (docs/openapi.json) the server is held
// to: every exchange Do makes is checked against it, so a test that passes
// also shows the document tells the truth about what it did.
//
//   - The response is always checked: its status must be documented for the
//     operation, its Content-Type and body must match, and the headers the
//     document requires must be there.
//   - The request is checked only when the server accepted it (2xx): tests
//     send invalid requests on purpose to get 4xx, but a request the server
//     accepted must be one the document allows (unless the test marks it
//     OutsideSchema: a batch answers malformed commands in its 200).
//   - A method and path the document does not have (an unknown route, a
//     wrong method) must get a problem document.
//   - A problem document's status and request_id must be the response's
//     status and X-Request-ID.
//
// Security is not checked here (the guard's own tests cover tokens); query
// parameters the document does not list are ignored.
type Contract struct {
	router  routers.Router
	options *openapi3filter.Options
	problem *openapi3.Schema
}

var loadContract = sync.OnceValues(newContract)

// TheContract returns the document, loaded and checked once per test binary.
func TheContract(t testing.TB) *Contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return c
}

// checkContract is Do's check. It reports with Errorf only, as Do may run
// on a goroutine other than the test's.
func checkContract(t testing.TB, x Exchange) {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Errorf("openapi.json: %v", err)
		return
	}
	c.Check(t, x)
}

func newContract() (*Contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// The legacy router matches the document's path templates segment by
	// segment ({id} is one segment) and needs no module beyond kin-openapi
	// (gorillamux needs gorilla/mux). It validates the document first; the
	// examples are left to the docs package's own tests.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value == nil {
		return nil, errors.New("components.schemas.Problem is missing")
	}
	// The docs pages are HTML: read them as text, as the document's
	// {type: string} schema describes them.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	return &Contract{
		router: router,
		options: &openapi3filter.Options{
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
			SkipSettingDefaults:   true,
			MultiError:            true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.DisableSchemaErrorDetails(),
				// Ids are UUIDs (v7 preferred, so RFC 9562's versions).
				openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
				openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)),
			},
		},
		problem: problem.Value,
	}, nil
}

// Exchange is one request as sent and the response to it.
type Exchange struct {
	Method   string
	URL      *url.URL // only its path and query matter
	Header   http.Header
	Body     []byte
	Response Response
	// OutsideSchema leaves the request unchecked (see Request).
	OutsideSchema bool
}

// Check reports every way x departs from the document with t.Errorf.
func (c *Contract) Check(t testing.TB, x Exchange) {
	t.Helper()
	for _, problem := range c.Problems(x) {
		t.Errorf("contract: %s %s → %d: %s", x.Method, x.URL.RequestURI(), x.Response.Status, problem)
	}
}

// Problems lists the ways x departs from the document (none: it conforms).
func (c *Contract) Problems(x Exchange) []string {
	req, err := x.request()
	if err != nil {
		return []string{"the request cannot be rebuilt for checking: " + err.Error()}
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Not an operation of the document: only a problem document will do.
		return append(c.problemDocument(x.Response), problemConsistency(x.Response)...)
	}
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.options}
	problems := problemConsistency(x.Response)
	if x.Response.Status >= 200 && x.Response.Status < 300 && !x.OutsideSchema {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			problems = append(problems, "the server accepted a request the document does not allow: "+oneLine(err))
		}
		req.Body = io.NopCloser(bytes.NewReader(x.Body)) // the request check read it
	}
	resp := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 x.Response.Status,
		Header:                 x.Response.Header,
		Options:                c.options,
	}
	resp.SetBodyBytes(x.Response.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), resp); err != nil {
		problems = append(problems, fmt.Sprintf("the response does not match %s %s: %s", route.Method, route.Path, oneLine(err)))
	}
	return problems
}

// request rebuilds the request for the router, with a URL of only the
// path and query: the document's server is "/", which the router matches
// against the start of the URL.
func (x Exchange) request() (*http.Request, error) {
	req, err := http.NewRequest(x.Method, "/", bytes.NewReader(x.Body))
	if err != nil {
		return nil, err
	}
	req.URL = &url.URL{Path: x.URL.Path, RawPath: x.URL.RawPath, RawQuery: x.URL.RawQuery}
	req.Header = x.Header.Clone()
	return req, nil
}

// problemDocument checks r is an RFC 9457 problem document as the
// document's Problem schema describes it.
func (c *Contract) problemDocument(r Response) []string {
	ct := r.Header.Get("Content-Type")
	if mediaType, _, err := mime.ParseMediaType(ct); err != nil || mediaType != "application/problem+json" {
		return []string{fmt.Sprintf("not an operation of the document, so the answer must be a problem document; Content-Type is %q", ct)}
	}
	value, err := decodeJSON(r.Body)
	if err != nil {
		return []string{"the problem document is not JSON: " + err.Error()}
	}
	if err := c.problem.VisitJSON(value, openapi3.MultiErrors(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return []string{"the problem document does not match the Problem schema: " + oneLine(err)}
	}
	return nil
}

// problemConsistency checks what a schema cannot: a problem document's
// status is the response's, and its request_id the X-Request-ID header.
func problemConsistency(r Response) []string {
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/problem+json" {
		return nil
	}
	var p struct {
		Status    *int    `json:"status"`
		RequestID *string `json:"request_id"`
	}
	if json.Unmarshal(r.Body, &p) != nil {
		return nil // the schema check reports it
	}
	var problems []string
	if p.Status != nil && *p.Status != r.Status {
		problems = append(problems, fmt.Sprintf("the problem document says status %d", *p.Status))
	}
	// A replayed answer is the first request's, byte for byte: its
	// request_id names the request that produced it.
	replayed := r.Header.Get("Idempotent-Replayed") == "true"
	if header := r.Header.Get("X-Request-ID"); !replayed && p.RequestID != nil && *p.RequestID != header {
		problems = append(problems, fmt.Sprintf("the problem document's request_id %q is not the X-Request-ID header %q", *p.RequestID, header))
	}
	return problems
}

func decodeJSON(data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	return v, err
}

// oneLine keeps a multi-error's lines together in one report.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " | ")), " ")
}
