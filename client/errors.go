package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Error is an answer with a status other than the one expected, decoded
// from its RFC 9457 problem document when it carries one.
type Error struct {
	Method    string
	Path      string
	Status    int
	Type      string // the problem type, such as "urn:taskflow:problem:not-found"
	Detail    string
	RequestID string
	Errors    []FieldError
	// Problem reports whether the body was an application/problem+json
	// document; a proxy's error page, for one, is not.
	Problem bool
}

// FieldError is one entry of a validation problem's "errors" list.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for _, f := range e.Errors {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// StatusOf returns the HTTP status of err when it is (or wraps) an *Error,
// and 0 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Problem is an RFC 9457 problem document, the body of every error answer.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors"`
}

// errorFrom turns an unexpected answer into an *Error. A body that is not a
// problem document is summarised, so an HTML error page from a proxy still
// gives the reader something to go on.
func errorFrom(req Request, resp *Response) *Error {
	e := &Error{Method: req.Method, Path: req.Path, Status: resp.Status, RequestID: resp.Header.Get("X-Request-ID")}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var doc Problem
	if mediaType == "application/problem+json" && json.Unmarshal(resp.Body, &doc) == nil {
		e.Problem = true
		e.Type, e.Detail, e.Errors = doc.Type, doc.Detail, doc.Errors
		if doc.RequestID != "" {
			e.RequestID = doc.RequestID
		}
		return e
	}
	e.Detail = summarise(resp.Body)
	if location := resp.Header.Get("Location"); resp.Status/100 == 3 && location != "" {
		e.Detail = "redirects to " + location
	}
	return e
}

// summarise returns the start of a body on one line.
func summarise(body []byte) string {
	const limit = 160
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > limit {
		text = text[:limit] + "…"
	}
	return text
}

// TransportError is a request that got no HTTP answer: the server could not
// be reached, did not answer in time, or broke the connection.
type TransportError struct {
	Host    string
	Timeout time.Duration // the per-request timeout in force
	Err     error
	// Stopped reports that the caller's context ended (its deadline passed
	// or it was cancelled) before the answer came: not the server's fault.
	Stopped bool
	// InTLSHandshake reports that the failure came while the TLS handshake
	// was under way.
	InTLSHandshake bool
}

func (e *TransportError) Unwrap() error { return e.Err }

// Error says what went wrong in the words an operator looks for, such as
// "cannot connect to 127.0.0.1:8000: connection refused".
func (e *TransportError) Error() string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case e.Stopped && errors.Is(e.Err, context.DeadlineExceeded):
		return fmt.Sprintf("request to %s stopped: the deadline passed", e.Host)
	case e.Stopped:
		return fmt.Sprintf("request to %s was cancelled", e.Host)
	case errors.As(e.Err, &dnsErr):
		return fmt.Sprintf("cannot connect to %s: its name does not resolve (%s)", e.Host, dnsErr.Err)
	case errors.As(e.Err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("cannot connect to %s: %s", e.Host, e.dialReason(opErr))
	case isTLSFailure(e.Err):
		return fmt.Sprintf("TLS handshake with %s failed: %v", e.Host, e.Err)
	case e.InTLSHandshake && isTimeout(e.Err):
		return fmt.Sprintf("TLS handshake with %s did not finish %s (does it serve plain http:// instead?)", e.Host, e.within())
	case isTimeout(e.Err):
		return fmt.Sprintf("no answer from %s %s", e.Host, e.within())
	case errors.Is(e.Err, io.EOF), errors.Is(e.Err, io.ErrUnexpectedEOF), errors.Is(e.Err, syscall.ECONNRESET):
		return fmt.Sprintf("%s closed the connection without a complete answer", e.Host)
	}
	return fmt.Sprintf("request to %s failed: %v", e.Host, e.Err)
}

func (e *TransportError) dialReason(opErr *net.OpError) string {
	switch {
	case errors.Is(opErr, syscall.ECONNREFUSED):
		return "connection refused"
	case isTimeout(opErr):
		return "no answer " + e.within()
	case errors.Is(opErr, syscall.ENETUNREACH), errors.Is(opErr, syscall.EHOSTUNREACH):
		return "no route to the host"
	}
	return opErr.Err.Error()
}

func (e *TransportError) within() string {
	if e.Timeout > 0 {
		return "within " + e.Timeout.String()
	}
	return "before the deadline"
}

// Unreachable reports whether the failure says the server cannot be used at
// all (no connection, no TLS, or no answer in time) rather than that one
// exchange broke.
func (e *TransportError) Unreachable() bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if e.Stopped {
		return false
	}
	return errors.As(e.Err, &dnsErr) || (errors.As(e.Err, &opErr) && opErr.Op == "dial") ||
		isTLSFailure(e.Err) || isTimeout(e.Err)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

func isTLSFailure(err error) bool {
	var recordErr tls.RecordHeaderError
	var verifyErr *tls.CertificateVerificationError
	var authorityErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	return errors.As(err, &recordErr) || errors.As(err, &verifyErr) || errors.As(err, &authorityErr) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr)
}
