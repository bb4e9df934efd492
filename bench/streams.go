package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest/proc"
	"taskflow/auth"
	"taskflow/database"
	"taskflow/realtime"
)

// streamSettle outlasts the opening of the streams (each reads where its
// feed stands, once): after it the streams are idle.
const streamSettle = 4 * time.Second

// streamVariant is one server binary the streams run measures.
type streamVariant struct {
	Name string
	Bin  string
}

// streamRound is one server's figures: the list workload with no stream
// open, then again with the streams open and idle.
type streamRound struct {
	Quiet, Streams loadResult
	// PeakQuietMB is the server's RSS high-water mark after the list load
	// with no stream; PeakMB after the list load with the streams.
	PeakQuietMB, PeakMB float64
	// RSSQuietMB is the server's resident memory after the list load with
	// no stream, RSSMB with the streams open and idle (before their list
	// load): their difference over the streams is the memory per stream.
	RSSQuietMB, RSSMB float64
	// DeliveryP50ms and DeliveryP99ms are from sending a write to each of
	// its user's streams reading its event.
	DeliveryP50ms, DeliveryP99ms float64
}

// KBPerStream is the resident memory the streams added, per stream.
func (r streamRound) KBPerStream(streams int) float64 {
	return (r.RSSMB - r.RSSQuietMB) * 1024 / float64(streams)
}

// streamsSuite measures what idle change-feed streams cost: each round
// starts a fresh server (of each variant in turn, so that two binaries
// alternate on the same dataset), runs the list workload with no stream
// open, opens --streams streams, realtime.MaxStreamsPerUser for each of
// as many users of their own, lets them settle, reads the server's RSS,
// runs the list workload again, and then times writes of streamWrites of
// those users until each of their streams has the write's event. It
// prints lists/s, server CPU per request and RSS of both halves, memory
// per stream and the delivery's percentiles.
func (b *bench) streamsSuite(ctx context.Context, stdout io.Writer) error {
	if err := raiseFileLimit(); err != nil {
		return err
	}
	variants := []streamVariant{{Name: "tree", Bin: b.bin}}
	if b.o.BaselineBin != "" {
		base, err := copyServer(b.o.BaselineBin, b.work, "taskflow-baseline")
		if err != nil {
			return err
		}
		variants = append([]streamVariant{{Name: "baseline", Bin: base}}, variants...)
	}
	type suite struct {
		name string
		run  func(context.Context, []streamVariant, io.Writer) error
	}
	var suites []suite
	if b.o.Postgres {
		suites = append(suites, suite{"postgres", b.streamsPostgres})
	}
	if b.o.SQLite {
		suites = append(suites, suite{"sqlite", b.streamsSQLite})
	}
	for _, s := range suites {
		if err := s.run(ctx, variants, stdout); err != nil {
			return fmt.Errorf("streams on %s: %w", s.name, err)
		}
	}
	return nil
}

func (b *bench) streamsPostgres(ctx context.Context, variants []streamVariant, stdout io.Writer) error {
	scratch, err := b.scratchDatabase(ctx, "streams", "taskflow_bench_streams_")
	if err != nil {
		return err
	}
	defer scratch.drop()
	dbURL := scratch.url
	env := serverEnv{DatabaseURL: dbURL, Production: true, JWTSecret: newSecret(), Extra: b.o.ServerEnv}
	if _, err := runMigrate(ctx, variants[len(variants)-1].Bin, env); err != nil {
		return err
	}
	db, err := openDatabase(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer database.Close(db)
	d, tokens, err := b.seed(ctx, db, env.JWTSecret, true)
	if err != nil {
		return err
	}
	return b.streamRounds(ctx, "postgres", env, d, tokens, variants, stdout)
}

func (b *bench) streamsSQLite(ctx context.Context, variants []streamVariant, stdout io.Writer) error {
	dbURL := "sqlite://" + filepath.Join(b.work, "bench-streams.db")
	db, err := openDatabase(ctx, dbURL, 0)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if err := database.Migrate(ctx, db, database.MigrateOptions{}); err != nil {
		return err
	}
	env := serverEnv{DatabaseURL: dbURL, JWTSecret: newSecret(), Extra: b.o.ServerEnv}
	d, tokens, err := b.seed(ctx, db, env.JWTSecret, false)
	if err != nil {
		return err
	}
	return b.streamRounds(ctx, "sqlite", env, d, tokens, variants, stdout)
}

func (b *bench) streamRounds(ctx context.Context, suite string, env serverEnv, d dataset, tokens map[string]string,
	variants []streamVariant, stdout io.Writer) error {
	owners, err := streamOwners(env.JWTSecret, b.o.Streams)
	if err != nil {
		return err
	}
	list := workload{Name: wlList, Requests: listRequests(d, tokens, "")}
	rounds := make([][]streamRound, len(variants))
	for round := 1; round <= b.o.Rounds; round++ {
		for i, v := range variants {
			r, err := b.streamRound(ctx, v.Bin, env, owners, list)
			if err != nil {
				return fmt.Errorf("%s: %w", v.Name, err)
			}
			rounds[i] = append(rounds[i], r)
			b.logf("%s round %d %-8s %6.0f lists/s with 0 streams, %6.0f with %d (%.2f×); CPU %.3f / %.3f ms per list; "+
				"RSS %.1f / %.1f MB (%.1f KB per stream), peak %.1f / %.1f MB; delivery p50 %.1f ms, p99 %.1f ms",
				suite, round, v.Name, r.Quiet.ReqPerSec, r.Streams.ReqPerSec, b.o.Streams, r.Streams.ReqPerSec/r.Quiet.ReqPerSec,
				r.Quiet.CPUmsPerReq, r.Streams.CPUmsPerReq, r.RSSQuietMB, r.RSSMB, r.KBPerStream(b.o.Streams),
				r.PeakQuietMB, r.PeakMB, r.DeliveryP50ms, r.DeliveryP99ms)
		}
	}
	fmt.Fprintf(stdout, "\n%s, %d idle streams of %d users, %d rounds of %s per half (medians)\n",
		suite, b.o.Streams, len(owners), b.o.Rounds, b.o.Duration)
	fmt.Fprintf(stdout, "%-9s %10s %10s %6s %10s %10s %9s %9s %9s %9s %9s %9s\n", "server", "lists/s 0", "lists/s N", "ratio",
		"CPU ms 0", "CPU ms N", "RSS MB 0", "RSS MB N", "KB/strm", "peak MB N", "dlv p50", "dlv p99")
	for i, v := range variants {
		med := func(f func(streamRound) float64) float64 { return medianOf(rounds[i], f) }
		fmt.Fprintf(stdout, "%-9s %10.0f %10.0f %6.2f %10.3f %10.3f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", v.Name,
			med(func(r streamRound) float64 { return r.Quiet.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Streams.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Streams.ReqPerSec / r.Quiet.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Quiet.CPUmsPerReq }),
			med(func(r streamRound) float64 { return r.Streams.CPUmsPerReq }),
			med(func(r streamRound) float64 { return r.RSSQuietMB }),
			med(func(r streamRound) float64 { return r.RSSMB }),
			med(func(r streamRound) float64 { return r.KBPerStream(b.o.Streams) }),
			med(func(r streamRound) float64 { return r.PeakMB }),
			med(func(r streamRound) float64 { return r.DeliveryP50ms }),
			med(func(r streamRound) float64 { return r.DeliveryP99ms }))
	}
	return nil
}

// streamRound runs one server of bin through both halves and the
// delivery.
func (b *bench) streamRound(ctx context.Context, bin string, env serverEnv, owners []streamOwner,
	list workload) (streamRound, error) {
	var r streamRound
	srv, err := startServer(ctx, bin, env)
	if err != nil {
		return r, err
	}
	defer srv.stop()
	gen := b.loadGen()
	if _, err := gen.run(ctx, srv, list, time.Second); err != nil { // warm up
		return r, err
	}
	if r.Quiet, err = gen.run(ctx, srv, list, b.o.Duration); err != nil {
		return r, err
	}
	st, err := proc.ReadStats(srv.Pid)
	if err != nil {
		return r, err
	}
	r.PeakQuietMB, r.RSSQuietMB = float64(st.PeakRSSKiB)/1024, float64(st.RSSKiB)/1024

	streamCtx, closeStreams := context.WithCancel(ctx)
	defer closeStreams()
	arrivals, err := openStreams(streamCtx, srv.URL, owners, b.o.Streams)
	if err != nil {
		return r, err
	}
	select {
	case <-time.After(streamSettle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if st, err = proc.ReadStats(srv.Pid); err != nil {
		return r, err
	}
	r.RSSMB = float64(st.RSSKiB) / 1024
	if r.Streams, err = gen.run(ctx, srv, list, b.o.Duration); err != nil {
		return r, err
	}
	if st, err = proc.ReadStats(srv.Pid); err != nil {
		return r, err
	}
	r.PeakMB = float64(st.PeakRSSKiB) / 1024
	delays, err := deliveries(ctx, srv.URL, owners, arrivals, b.o.Streams)
	if err != nil {
		return r, err
	}
	slices.Sort(delays)
	r.DeliveryP50ms = float64(percentileOf(delays, 0.50)) / float64(time.Millisecond)
	r.DeliveryP99ms = float64(percentileOf(delays, 0.99)) / float64(time.Millisecond)
	return r, nil
}

// streamOwner is a user holding streams: one of its own, with no task, so
// that its streams and writes touch nobody else's.
type streamOwner struct {
	ID, Token string
}

// streamOwners mints tokens for the users that hold n streams,
// realtime.MaxStreamsPerUser each.
func streamOwners(secret string, n int) ([]streamOwner, error) {
	signer := auth.AccessTokens{Secret: []byte(secret), Issuer: "taskflow", TTL: 6 * time.Hour}
	owners := make([]streamOwner, (n+realtime.MaxStreamsPerUser-1)/realtime.MaxStreamsPerUser)
	for i := range owners {
		id := uuid.NewString()
		token, err := signer.Sign(id)
		if err != nil {
			return nil, err
		}
		owners[i] = streamOwner{ID: id, Token: token}
	}
	return owners, nil
}

// streamOpeners is how many streams open at once.
const streamOpeners = 16

// openStreams opens n change-feed streams, realtime.MaxStreamsPerUser per
// owner in order, and reads each in the background until ctx ends. Each
// event a stream reads is reported, with when it arrived, on its owner's
// channel. Anything but a 200 is an error.
func openStreams(ctx context.Context, baseURL string, owners []streamOwner, n int) ([]chan time.Time, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streamOpeners}}
	arrivals := make([]chan time.Time, len(owners))
	for i := range arrivals {
		arrivals[i] = make(chan time.Time, 4*realtime.MaxStreamsPerUser)
	}
	var (
		wg       sync.WaitGroup
		openers  = make(chan struct{}, streamOpeners)
		failOnce sync.Once
		failed   error
	)
	for i := range n {
		openers <- struct{}{}
		wg.Go(func() {
			defer func() { <-openers }()
			if err := openStream(ctx, client, baseURL, owners[i/realtime.MaxStreamsPerUser].Token, arrivals[i/realtime.MaxStreamsPerUser]); err != nil {
				failOnce.Do(func() { failed = fmt.Errorf("stream %d: %w", i, err) })
			}
		})
	}
	wg.Wait()
	return arrivals, failed
}

// openStream opens one stream with token and reads it in the background.
func openStream(ctx context.Context, client *http.Client, baseURL, token string, arrived chan<- time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	go readEvents(resp.Body, arrived)
	return nil
}

// readEvents reports on arrived the time each event's id line is read.
func readEvents(body io.ReadCloser, arrived chan<- time.Time) {
	defer body.Close()
	r := bufio.NewReaderSize(body, 256)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
		if bytes.HasPrefix(line, []byte("id: ")) {
			select {
			case arrived <- time.Now():
			default:
			}
		}
	}
}

// streamWrites is how many writes the delivery times, each by another
// owner.
const streamWrites = 200

// deliveries makes a write as each of streamWrites owners in turn and
// returns, for each of the owner's streams, the time from sending the
// write to the stream reading its event.
func deliveries(ctx context.Context, baseURL string, owners []streamOwner, arrivals []chan time.Time, n int) ([]time.Duration, error) {
	client := &http.Client{}
	var delays []time.Duration
	for w := range min(streamWrites, len(owners)) {
		owner := w * len(owners) / min(streamWrites, len(owners))
		streams := min(realtime.MaxStreamsPerUser, n-owner*realtime.MaxStreamsPerUser)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/tasks", strings.NewReader(`{"title":"delivered"}`))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+owners[owner].Token)
		req.Header.Set("Content-Type", "application/json")
		sent := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("write %d: status %d", w, resp.StatusCode)
		}
		for range streams {
			select {
			case at := <-arrivals[owner]:
				delays = append(delays, at.Sub(sent))
			case <-time.After(10 * time.Second):
				return nil, fmt.Errorf("write %d: a stream had no event within 10 s", w)
			}
		}
	}
	return delays, nil
}

// raiseFileLimit lifts this process's open-file limit to its hard limit:
// each stream is a descriptor here and one in the server, which inherits
// the limit.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
