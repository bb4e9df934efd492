// Package eventstest reads the change feed (GET /api/v1/events) for tests:
// an event-stream client that parses events into a channel.
package eventstest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Event is one parsed event of the stream.
type Event struct {
	ID   int64
	Type string
	Data string
	// Received is when the client read it.
	Received time.Time
}

// Decode decodes the event's data into v.
func (e Event) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("event %d (%s): data %q is not JSON: %v", e.ID, e.Type, e.Data, err)
	}
}

// Stream is an open event stream.
type Stream struct {
	Status int
	Header http.Header
	Events chan Event
	// Pings counts the ": ping" comments read so far (read it after Ended).
	pings chan struct{}
	ended chan struct{}
	// err is why reading stopped, nil at a clean end of the body.
	err    error
	cancel context.CancelFunc
}

var client = &http.Client{}

// Open requests url (the whole URL of GET /api/v1/events, query
// included) with headers and, on a 200, reads its events in the background
// until Close or the end of the stream. Any other status is returned with
// no reading.
func Open(t testing.TB, url string, headers map[string]string) *Stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	s := &Stream{Status: resp.StatusCode, Header: resp.Header, Events: make(chan Event, 1024),
		pings: make(chan struct{}, 1024), ended: make(chan struct{}), cancel: cancel}
	t.Cleanup(s.Close)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(s.ended)
		return s
	}
	go s.read(resp)
	return s
}

func (s *Stream) read(resp *http.Response) {
	defer close(s.ended)
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	var e Event
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case line == "":
			if e.Type != "" {
				e.Received = time.Now()
				s.Events <- e
			}
			e = Event{}
		case line == ": ping":
			select {
			case s.pings <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, "id: "):
			e.ID, _ = strconv.ParseInt(line[len("id: "):], 10, 64)
		case strings.HasPrefix(line, "event: "):
			e.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			e.Data = line[len("data: "):]
		}
	}
	s.err = scanner.Err()
}

// Close drops the connection.
func (s *Stream) Close() { s.cancel() }

// Ended is closed once the server ended the stream (or Close did).
func (s *Stream) Ended() <-chan struct{} { return s.ended }

// Err is why reading stopped (read it after Ended): nil when the server
// ended the body cleanly, an error when the connection was cut or Close
// dropped it.
func (s *Stream) Err() error {
	<-s.ended
	return s.err
}

// Pings receives for each ": ping" comment.
func (s *Stream) Pings() <-chan struct{} { return s.pings }

// Next returns the next event, failing the test after wait.
func (s *Stream) Next(t testing.TB, wait time.Duration) Event {
	t.Helper()
	select {
	case e := <-s.Events:
		return e
	case <-time.After(wait):
		t.Fatalf("no event within %s", wait)
	}
	return Event{}
}

// None fails the test if an event arrives within wait.
func (s *Stream) None(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case e := <-s.Events:
		t.Fatalf("unexpected event %d %s %s", e.ID, e.Type, e.Data)
	case <-time.After(wait):
	}
}
