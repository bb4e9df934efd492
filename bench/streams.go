package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"taskflow/app/apptest/proc"
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
}

// streamsSuite measures what idle change-feed streams cost the list
// workload: each round starts a fresh server (of each variant in turn, so
// that two binaries alternate on the same dataset), runs the list
// workload with no stream open, opens --streams streams spread over the
// users (at most realtime.MaxStreamsPerUser each), lets them settle and
// runs the list workload again. It prints lists/s, server CPU per request
// and peak RSS of both halves, and their ratio.
func (b *bench) streamsSuite(ctx context.Context, stdout io.Writer) error {
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
	admin, err := openDatabase(ctx, b.o.PgURL, 2)
	if err != nil {
		return err
	}
	defer database.Close(admin)
	name := "taskflow_bench_streams_" + randomHex(4)
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + name).Error; err != nil {
		return fmt.Errorf("create the benchmark database: %w", err)
	}
	if b.o.Keep {
		b.logf("streams: keeping the database %s", name)
	} else {
		defer admin.WithContext(context.Background()).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	}
	dbURL, err := withDatabase(b.o.PgURL, name)
	if err != nil {
		return err
	}
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
	if most := len(d.Users) * realtime.MaxStreamsPerUser; b.o.Streams > most {
		return fmt.Errorf("--streams %d: the dataset's %d users may hold at most %d", b.o.Streams, len(d.Users), most)
	}
	list := workload{Name: wlList, Requests: listRequests(d, tokens, "")}
	rounds := make([][]streamRound, len(variants))
	for round := 1; round <= b.o.Rounds; round++ {
		for i, v := range variants {
			r, err := b.streamRound(ctx, v.Bin, env, d, tokens, list)
			if err != nil {
				return fmt.Errorf("%s: %w", v.Name, err)
			}
			rounds[i] = append(rounds[i], r)
			b.logf("%s round %d %-8s %6.0f lists/s with 0 streams, %6.0f with %d (%.2f×); CPU %.3f / %.3f ms per list; peak RSS %.1f / %.1f MB",
				suite, round, v.Name, r.Quiet.ReqPerSec, r.Streams.ReqPerSec, b.o.Streams, r.Streams.ReqPerSec/r.Quiet.ReqPerSec,
				r.Quiet.CPUmsPerReq, r.Streams.CPUmsPerReq, r.PeakQuietMB, r.PeakMB)
		}
	}
	fmt.Fprintf(stdout, "\n%s, %d idle streams, %d rounds of %s per half (medians)\n", suite, b.o.Streams, b.o.Rounds, b.o.Duration)
	fmt.Fprintf(stdout, "%-9s %12s %12s %7s %14s %14s %12s %12s\n", "server", "lists/s 0", "lists/s N", "ratio",
		"CPU ms/list 0", "CPU ms/list N", "peak MB 0", "peak MB N")
	for i, v := range variants {
		med := func(f func(streamRound) float64) float64 { return medianOf(rounds[i], f) }
		fmt.Fprintf(stdout, "%-9s %12.0f %12.0f %7.2f %14.3f %14.3f %12.1f %12.1f\n", v.Name,
			med(func(r streamRound) float64 { return r.Quiet.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Streams.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Streams.ReqPerSec / r.Quiet.ReqPerSec }),
			med(func(r streamRound) float64 { return r.Quiet.CPUmsPerReq }),
			med(func(r streamRound) float64 { return r.Streams.CPUmsPerReq }),
			med(func(r streamRound) float64 { return r.PeakQuietMB }),
			med(func(r streamRound) float64 { return r.PeakMB }))
	}
	return nil
}

// streamRound runs one server of bin through both halves.
func (b *bench) streamRound(ctx context.Context, bin string, env serverEnv, d dataset, tokens map[string]string,
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
	r.PeakQuietMB = float64(st.PeakRSSKiB) / 1024

	streamCtx, closeStreams := context.WithCancel(ctx)
	defer closeStreams()
	if err := openStreams(streamCtx, srv.URL, d, tokens, b.o.Streams); err != nil {
		return r, err
	}
	select {
	case <-time.After(streamSettle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if r.Streams, err = gen.run(ctx, srv, list, b.o.Duration); err != nil {
		return r, err
	}
	if st, err = proc.ReadStats(srv.Pid); err != nil {
		return r, err
	}
	r.PeakMB = float64(st.PeakRSSKiB) / 1024
	return r, nil
}

// openStreams opens n change-feed streams, realtime.MaxStreamsPerUser per
// user in the dataset's order, and reads each in the background until ctx
// ends. Anything but a 200 is an error.
func openStreams(ctx context.Context, baseURL string, d dataset, tokens map[string]string, n int) error {
	client := &http.Client{}
	for i := range n {
		u := d.Users[i/realtime.MaxStreamsPerUser]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/events", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tokens[u.ID])
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return fmt.Errorf("stream %d: status %d: %s", i, resp.StatusCode, body)
		}
		go func() {
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	return nil
}
