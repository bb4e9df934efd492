// Command bench measures the TaskFlow server the way it is deployed: it
// seeds a fresh database with a fixed dataset, builds and starts the
// production server, drives it over loopback with wrk, and measures the
// same work as pgbench runs it straight on PostgreSQL, so every endpoint's
// throughput reads as a share of what the database itself can do.
//
//	go run ./bench                     full run on PostgreSQL (a few minutes)
//	go run ./bench --quick             smoke run, under a minute
//	go run ./bench --sqlite            the embedded SQLite server too
//	go run ./bench --cpuprofile cpu.pprof --rounds 0   profile the list under load
//	go run ./bench --rtt 20ms          each endpoint's round trips at an injected database RTT
//	go run ./bench --streams 500       list throughput with no change-feed stream and with 500 idle ones
//	go run ./bench --streams 500 --baseline-bin OLD   the same, OLD and the working tree alternating
//	go run ./bench --search            searches of a user with 10,000 long tasks, the search attack, pg_trgm against full text
//	go run ./bench --search --baseline-bin OLD   the same, with the list of one user alone on OLD too
//	go run ./bench --baseline-bin OLD --workloads 'list,get one'   the load runs, OLD and the working tree alternating round by round
//	go run ./bench --model             the task model through the API: moves, a project's list and deletion, sync, batches, tombstones
//
// Run it from the repository root; it needs wrk and pgbench (Debian: apt-get
// install wrk postgresql-contrib) and a PostgreSQL it may create databases on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command line's settings.
type options struct {
	PgURL       string
	PgLog       string
	Quick       bool
	Postgres    bool
	SQLite      bool
	Duration    time.Duration
	Rounds      int
	Connections int
	Threads     int
	Out         string
	CPUProfile  string
	ProfileLoad string
	ServerEnv   envFlags
	Shape       shape
	Keep        bool
	Only        string
	ServerBin   string
	RTT         time.Duration
	RTTRequests int
	Streams     int
	BaselineBin string
	Search      bool
	Model       bool
}

// envFlags collects repeated --server-env KEY=VALUE flags.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(map[string]string(e)) }
func (e envFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	e[k] = val
	return nil
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{ServerEnv: envFlags{}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.PgURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL of a role that may create databases")
	fs.StringVar(&o.PgLog, "pg-log", "", "PostgreSQL's log file, to read the statements the server runs (found by itself on Debian)")
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: small dataset, short runs, one round (under a minute)")
	fs.BoolVar(&o.Postgres, "postgres", true, "measure the server on PostgreSQL, with pgbench bounds")
	fs.BoolVar(&o.SQLite, "sqlite", false, "measure the server on the embedded SQLite too")
	fs.DurationVar(&o.Duration, "duration", 0, "length of each load run (default 6s, 1s with --quick)")
	fs.IntVar(&o.Rounds, "rounds", -1, "rounds of alternating server and pgbench runs; medians are reported (default 3, 1 with --quick)")
	fs.IntVar(&o.Connections, "c", 64, "connections of wrk and clients of pgbench")
	fs.IntVar(&o.Threads, "t", 2, "threads of wrk and of pgbench")
	fs.StringVar(&o.Out, "out", "bench-results.json", "where to write the results as JSON (empty: nowhere)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "also profile a DEBUG server's CPU under load into this file (go tool pprof FILE)")
	fs.StringVar(&o.ProfileLoad, "profile-workload", wlList, "the workload --cpuprofile runs")
	fs.StringVar(&o.Only, "workloads", "", "comma-separated workloads to run (default: all): list, list one user, list filter+q, get one, create, create+key, patch, mixed")
	fs.StringVar(&o.ServerBin, "server-bin", "", "measure this server binary instead of building the working tree (to compare two versions)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the benchmark database and work directory, to look into them")
	fs.DurationVar(&o.RTT, "rtt", 0, "instead of the load runs, time each endpoint sequentially at this added database RTT and at none")
	fs.IntVar(&o.RTTRequests, "rtt-requests", 20, "requests per endpoint and RTT with --rtt (1 to 200)")
	fs.IntVar(&o.Streams, "streams", 0, "instead of the load runs, run the list workload with no change-feed stream open and with this many idle ones")
	fs.StringVar(&o.BaselineBin, "baseline-bin", "", "alternate this server binary with the measured one, round by round, in the load runs (each build on a database it migrated), --streams or --search")
	fs.BoolVar(&o.Search, "search", false, "instead of the load runs, measure searches of a user with 10,000 long tasks, the search attack, and pg_trgm against full text")
	fs.BoolVar(&o.Model, "model", false, "instead of the load runs, measure the task model through the API on PostgreSQL and SQLite: 10,000 moves into one gap, a 10,000-task project's list in manual order and its deletion, a sync from the start, batches at an injected RTT, tombstones")
	fs.Var(o.ServerEnv, "server-env", "KEY=VALUE for the server's environment, e.g. DB_MAX_OPEN_CONNS=8 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Shape = fullShape
	if o.Quick {
		o.Shape = quickShape
	}
	if o.Duration == 0 {
		o.Duration = 6 * time.Second
		if o.Quick {
			o.Duration = time.Second
		}
	}
	if o.RTT < 0 || o.RTTRequests < 1 || o.RTTRequests > maxRTTRequests {
		return o, fmt.Errorf("--rtt must not be negative and --rtt-requests must be from 1 to %d", maxRTTRequests)
	}
	if o.Streams < 0 || (o.BaselineBin != "" && (o.RTT > 0 || o.Model)) {
		return o, errors.New("--streams must not be negative, and --baseline-bin goes with the load runs, --streams or --search")
	}
	if o.Rounds < 0 {
		o.Rounds = 3
		if o.Quick {
			o.Rounds = 1
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseOptions(args, os.Stderr)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("wrk"); err != nil && o.RTT == 0 && !o.Model {
		return errors.New("wrk not found: install it (Debian: apt-get install wrk)")
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root (go run ./bench)")
	}
	work, err := os.MkdirTemp("", "taskflow-bench-")
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintln(stdout, "bench: keeping the work directory", work)
	} else {
		defer os.RemoveAll(work)
	}

	rep := newReport(o)
	logf := func(format string, a ...any) { fmt.Fprintf(stdout, "bench: "+format+"\n", a...) }
	bin := o.ServerBin
	if bin == "" {
		logf("load average %s; building the server", rep.Machine.LoadStart)
		if bin, err = buildServer(ctx, work); err != nil {
			return err
		}
	} else if bin, err = copyServer(o.ServerBin, work, "taskflow"); err != nil {
		return fmt.Errorf("--server-bin: %w", err)
	}
	if st, err := os.Stat(bin); err == nil {
		rep.BinaryMB = float64(st.Size()) / (1 << 20)
	}
	b := &bench{o: o, work: work, bin: bin, rep: rep, logf: logf}
	if o.RTT > 0 {
		return b.rttSuite(ctx, stdout)
	}
	if o.Streams > 0 {
		return b.streamsSuite(ctx, stdout)
	}
	if o.Search {
		return b.searchSuite(ctx, stdout)
	}
	if o.Model {
		return b.modelSuite(ctx, stdout)
	}
	if o.BaselineBin != "" {
		if err := b.alternateLoads(ctx); err != nil {
			return err
		}
	} else if err := b.loads(ctx); err != nil {
		return err
	}
	rep.finish()
	rep.printTable(stdout)
	if o.BaselineBin != "" {
		rep.printBaselineRatios(stdout)
	}
	if o.Out != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.Out, append(data, '\n'), 0o644); err != nil {
			return err
		}
		logf("results written to %s", o.Out)
	}
	return nil
}

// loads runs the load suites of the chosen servers.
func (b *bench) loads(ctx context.Context) error {
	if b.o.Postgres {
		if err := b.postgresSuite(ctx); err != nil {
			return err
		}
	}
	if b.o.SQLite {
		return b.sqliteSuite(ctx)
	}
	return nil
}

// baselineLabel marks the baseline server's suites in the report.
const baselineLabel = " baseline"

// alternateLoads runs the load suites round by round, the baseline binary
// first and then the measured one, each round on freshly seeded databases
// migrated by the binary that serves them (the two may differ in schema).
// pgbench's bounds are measured for the measured server only.
func (b *bench) alternateLoads(ctx context.Context) error {
	base, err := copyServer(b.o.BaselineBin, b.work, "taskflow-baseline")
	if err != nil {
		return fmt.Errorf("--baseline-bin: %w", err)
	}
	rounds := b.o.Rounds
	for round := 1; round <= rounds; round++ {
		for _, v := range []struct{ label, bin string }{{baselineLabel, base}, {"", b.bin}} {
			one := *b
			one.o.Rounds, one.label, one.bin, one.noBounds = 1, v.label, v.bin, v.bin == base
			b.logf("round %d of %d: %s", round, rounds, strings.TrimSpace("server"+v.label))
			if err := one.loads(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
