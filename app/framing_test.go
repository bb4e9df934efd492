package app_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// pipelined follows every framing test's request on the same connection: a
// server that misreads where the first body ends answers it (or whatever
// a proxy in front left behind the body it saw).
const pipelined = "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"

// A request whose body length is ambiguous (RFC 9112 sections 6.1 and 6.3)
// is the raw material of request smuggling: a proxy in front and this
// server can disagree on where the body ends, and the server would then
// answer what the proxy took for body as a request of its own. Each shape
// gets a 400 problem document, the connection is closed, and the request
// pipelined after it is never answered. The HTTP layer is the same on
// either database, so SQLite is enough.
func TestAmbiguousBodyLengthIsRefusedAndClosed(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	addr := strings.TrimPrefix(s.URL, "http://")
	const head = "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	const emptyChunked = "0\r\n\r\n"
	shapes := []struct{ name, raw string }{
		{"Content-Length with chunked", head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + emptyChunked},
		{"chunked before Content-Length", head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + emptyChunked},
		{"chunked, identity", head + "Transfer-Encoding: chunked, identity\r\n\r\n" + emptyChunked},
		{"gzip, chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + emptyChunked},
		{"two Transfer-Encoding headers", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + emptyChunked},
		{"identity then chunked headers", head + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n" + emptyChunked},
		{"identity alone", head + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n" + emptyChunked},
		{"unknown coding", head + "Transfer-Encoding: xchunked\r\n\r\n" + emptyChunked},
		{"Transfer-Encoding in HTTP/1.0", strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + emptyChunked},
		{"two different Content-Lengths", head + "Content-Length: 0\r\nContent-Length: 5\r\n\r\n" + emptyChunked},
		{"space before the colon", head + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n" + emptyChunked},
		{"folded onto a second line", head + "Transfer-Encoding: chunked\r\n , identity\r\n\r\n" + emptyChunked},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			conn, reader := rawConn(t, addr, shape.raw+pipelined)
			r, closing := readRawResponse(t, reader)
			if r.Status == http.StatusBadRequest {
				requireProblemType(t, r, http.StatusBadRequest, "bad-request")
			} else {
				t.Errorf("status = %d, want 400; body: %s", r.Status, r.Body)
			}
			if !closing {
				t.Errorf("the 400 lacks Connection: close")
			}
			requireClosedWithNothingMore(t, conn, reader)
		})
	}
}

// The refusals above leave well-framed requests alone: a chunked body (the
// coding's name in any case) and a Content-Length body are read, and the
// request pipelined after each is answered on the same connection.
func TestWellFramedBodiesKeepTheConnection(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	addr := strings.TrimPrefix(s.URL, "http://")
	const head = "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	requests := []struct{ name, raw string }{
		{"chunked", head + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
		{"CHUNKED", head + "Transfer-Encoding: CHUNKED\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
		{"Content-Length", head + "Content-Length: 2\r\n\r\n{}"},
	}
	for _, req := range requests {
		t.Run(req.name, func(t *testing.T) {
			conn, reader := rawConn(t, addr, req.raw+pipelined)
			// No token: the guard's 401 shows the request was read and routed.
			first, closing := readRawResponse(t, reader)
			requireProblemType(t, first, http.StatusUnauthorized, "unauthorized")
			if closing {
				t.Errorf("the answer closes the connection")
			}
			if next, _ := readRawResponse(t, reader); next.Status != http.StatusOK || !strings.Contains(string(next.Body), `"ok"`) {
				t.Errorf("pipelined request: status %d, body %s; want 200 ok", next.Status, next.Body)
			}
			_ = conn.Close()
		})
	}
}

// rawConn opens a connection to addr, writes raw in one piece and returns
// the connection with a reader of its answers.
func rawConn(t *testing.T, addr, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// readRawResponse reads one response from reader, and whether it says
// "Connection: close" (which Go's reader takes out of its headers).
func readRawResponse(t *testing.T, reader *bufio.Reader) (apptest.Response, bool) {
	t.Helper()
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, resp.Close
}

// requireClosedWithNothingMore fails unless the server closes conn without
// sending another byte: no answer to the pipelined request, and no
// connection kept open for one.
func requireClosedWithNothingMore(t *testing.T, conn net.Conn, reader *bufio.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	rest, err := io.ReadAll(reader)
	if len(rest) > 0 {
		t.Errorf("the server went on after its 400 and sent %q", rest)
	}
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		// Closed: io.ReadAll reports the end of the stream as no error.
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("the connection stayed open after the 400")
	default:
		t.Errorf("reading after the 400: %v", err)
	}
}
