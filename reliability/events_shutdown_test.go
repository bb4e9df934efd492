package reliability

import (
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
	"taskflow/realtime"
)

// TestShutdownEndsEventStreams sends SIGTERM to the real binary while 100
// change-feed streams are open. Streams never end by themselves, so a
// drain that waited for them would run out SHUTDOWN_TIMEOUT and exit
// non-zero; instead every stream must end cleanly (the body closed, not
// the connection cut) and the process exit 0 well within the timeout.
func TestShutdownEndsEventStreams(t *testing.T) {
	skipInShort(t)
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		const shutdownTimeout = 5 * time.Second
		p := runServer(t, processEnv(db.URL, map[string]string{
			"SHUTDOWN_TIMEOUT":     shutdownTimeout.String(),
			"EVENTS_PING_INTERVAL": "200ms",
		}))
		streams := openStreams(t, p.URL, 100)
		for i, s := range streams {
			select {
			case <-s.Pings():
			case <-time.After(10 * time.Second):
				t.Fatalf("stream %d: no ping within 10s", i)
			}
		}

		signalAt := time.Now()
		p.Signal(t, syscall.SIGTERM)
		exitCode := p.WaitExit(t, shutdownTimeout+5*time.Second)
		exited := time.Since(signalAt)
		t.Logf("SIGTERM with %d open streams: exit code %d after %s", len(streams), exitCode, exited.Round(time.Millisecond))
		if exitCode != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0; log:\n%s", exitCode, p.Logs())
		}
		if exited >= shutdownTimeout {
			t.Errorf("exited %s after SIGTERM: the drain ran out SHUTDOWN_TIMEOUT (%s)", exited, shutdownTimeout)
		}
		for i, s := range streams {
			select {
			case <-s.Ended():
			case <-time.After(5 * time.Second):
				t.Fatalf("stream %d is still open 5s after the process exited", i)
			}
			if err := s.Err(); err != nil {
				t.Errorf("stream %d was cut rather than ended: %v", i, err)
			}
		}
		if lines := p.ErrorLines(); len(lines) > 0 {
			t.Errorf("the server logged errors during the shutdown:\n%v", lines)
		}
	})
}

// openStreams opens n streams on baseURL, as many users as the
// per-user limit needs.
func openStreams(t *testing.T, baseURL string, n int) []*eventstest.Stream {
	t.Helper()
	streams := make([]*eventstest.Stream, 0, n)
	var token string
	for i := range n {
		if i%realtime.MaxStreamsPerUser == 0 {
			_, token = userToken(t)
		}
		s := eventstest.Open(t, baseURL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + token})
		if s.Status != 200 {
			t.Fatalf("stream %d: status %d, want 200", i, s.Status)
		}
		streams = append(streams, s)
	}
	return streams
}
