package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stats are a process's CPU time and memory, from /proc (Linux only).
type Stats struct {
	CPU        time.Duration // user + system
	RSSKiB     int64         // VmRSS, resident now
	PeakRSSKiB int64         // VmHWM, the highest RSS since the process started
}

// clockTicks is USER_HZ, in which /proc/PID/stat counts CPU time: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ReadStats reads the CPU time and memory of process pid.
func ReadStats(pid int) (Stats, error) {
	var st Stats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return st, errors.New("unexpected /proc stat format")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 of the whole line
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	st.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	found := false
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			st.RSSKiB, found = kib, true
		case "VmHWM":
			st.PeakRSSKiB = kib
		}
	}
	if !found {
		return st, errors.New("no VmRSS line in /proc status")
	}
	return st, nil
}

// Sample is one reading of a process's resident memory.
type Sample struct {
	At     time.Time
	RSSKiB int64
}

// Sampler reads a process's RSS at a steady pace until stopped.
type Sampler struct {
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

// SampleRSS reads pid's RSS now and then every interval, until Stop.
// Failed readings (the process gone) are skipped.
func SampleRSS(pid int, every time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if st, err := ReadStats(pid); err == nil {
				s.samples = append(s.samples, Sample{At: time.Now(), RSSKiB: st.RSSKiB})
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the readings, oldest first.
func (s *Sampler) Stop() []Sample {
	close(s.stop)
	<-s.done
	return s.samples
}

// Peak is the highest reading of samples, in KiB (0 without any).
func Peak(samples []Sample) int64 {
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.RSSKiB)
	}
	return peak
}
