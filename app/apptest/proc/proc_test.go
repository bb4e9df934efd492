package proc

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadStatsOfThisProcess(t *testing.T) {
	st, err := ReadStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSKiB <= 0 || st.PeakRSSKiB < st.RSSKiB {
		t.Fatalf("RSS %d KiB, peak %d KiB: want a positive RSS no higher than the peak", st.RSSKiB, st.PeakRSSKiB)
	}
	if _, err := ReadStats(-1); err == nil {
		t.Fatal("stats of pid -1: want an error")
	}
}

func TestSampleRSSReadsUntilStopped(t *testing.T) {
	s := SampleRSS(os.Getpid(), time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	samples := s.Stop()
	if len(samples) < 2 {
		t.Fatalf("got %d samples in 20ms at 1ms, want several", len(samples))
	}
	if Peak(samples) <= 0 {
		t.Fatalf("peak %d KiB, want positive", Peak(samples))
	}
}

func TestEnvironIsSortedAndComplete(t *testing.T) {
	got := Environ(map[string]string{"B": "2", "A": "1", "EMPTY": ""})
	if want := []string{"A=1", "B=2", "EMPTY="}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// The process helpers on a shell rather than the server: the exit code,
// the two streams, the empty environment and a stop by SIGTERM.
func TestStartWaitAndStop(t *testing.T) {
	sh := "/bin/sh"
	p, err := Start(sh, Options{Dir: t.TempDir(), Args: []string{"-c", `echo out; echo err >&2; echo "HOME=$HOME"; exit 3`}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	if err != nil || code != 3 {
		t.Fatalf("exit code %d (%v), want 3", code, err)
	}
	if p.Stdout() != "out\nHOME=\n" || p.Stderr() != "err\n" || !strings.Contains(p.Output(), "out\n") || !strings.Contains(p.Output(), "err\n") {
		t.Fatalf("stdout %q, stderr %q, output %q", p.Stdout(), p.Stderr(), p.Output())
	}

	sleeper, err := Start(sh, Options{Args: []string{"-c", "exec sleep 30"}})
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := sleeper.Wait(short); err == nil || sleeper.Exited() {
		t.Fatal("Wait returned no error for a process still running")
	}
	started := time.Now()
	sleeper.Stop(10 * time.Second)
	if !sleeper.Exited() || time.Since(started) > 5*time.Second {
		t.Fatalf("Stop took %s; exited: %t", time.Since(started), sleeper.Exited())
	}
}
