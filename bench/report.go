package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is everything a run measured; it is printed as a table and
// written as JSON.
type report struct {
	Command       string                 `json:"command"`
	Started       time.Time              `json:"started"`
	Machine       machine                `json:"machine"`
	Settings      settings               `json:"settings"`
	BinaryMB      float64                `json:"binary_mb"`
	MigrateMS     float64                `json:"migrate_ms"`
	Startup       []startupResult        `json:"startup"`
	PeakRSS       []rssResult            `json:"server_rss_peak"`
	ListBodyBytes int                    `json:"list_body_bytes"`
	Results       []*endpointResult      `json:"results"`
	Targets       []target               `json:"targets"`
	CapturedSQL   map[string][]statement `json:"captured_sql,omitempty"`
}

type machine struct {
	CPUs      int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemoryMB  int64  `json:"memory_mb"`
	LoadStart string `json:"load_average_start"`
	LoadEnd   string `json:"load_average_end"`
	Go        string `json:"go"`
	Postgres  string `json:"postgres,omitempty"`
	Wrk       string `json:"wrk"`
}

type settings struct {
	Dataset     shape             `json:"dataset"`
	Duration    string            `json:"duration_per_run"`
	Rounds      int               `json:"rounds"`
	Connections int               `json:"connections"`
	Threads     int               `json:"threads"`
	ServerEnv   map[string]string `json:"server_env,omitempty"`
}

type startupResult struct {
	Suite string  `json:"suite"`
	MS    float64 `json:"ms"`
}

type rssResult struct {
	Suite string  `json:"suite"`
	MB    float64 `json:"mb"`
}

// endpointResult is one workload on one server: every round, their
// medians, and the pgbench bounds with the server's share of each.
type endpointResult struct {
	Suite      string        `json:"suite"`
	Workload   string        `json:"workload"`
	Statements float64       `json:"statements_per_request"` // -1: not measured
	Rounds     []loadResult  `json:"rounds"`
	Median     loadResult    `json:"median"`
	ServerSQL  []boundResult `json:"server_sql_bound_rounds,omitempty"`
	BestSQL    []boundResult `json:"best_sql_bound_rounds,omitempty"`
	ServerSQLM *boundResult  `json:"server_sql_bound,omitempty"`
	BestSQLM   *boundResult  `json:"best_sql_bound,omitempty"`
	RatioSrv   float64       `json:"ratio_to_server_sql,omitempty"`
	RatioBest  float64       `json:"ratio_to_best_sql,omitempty"`
}

// target is one of the goals the server is held to, and whether this run met it.
type target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Got      float64 `json:"got"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Measured bool    `json:"measured"`
}

func newReport(o options) *report {
	r := &report{
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "),
		Started: time.Now().UTC().Truncate(time.Second),
		Settings: settings{Dataset: o.Shape, Duration: o.Duration.String(), Rounds: o.Rounds,
			Connections: o.Connections, Threads: o.Threads, ServerEnv: o.ServerEnv},
	}
	r.Machine = machine{CPUs: runtime.NumCPU(), CPUModel: cpuModel(), MemoryMB: memoryMB(),
		LoadStart: loadAverage(), Go: runtime.Version(), Wrk: wrkVersion()}
	return r
}

func (r *report) finish() {
	r.Machine.LoadEnd = loadAverage()
	for _, e := range r.Results {
		e.Median = medianLoad(e.Rounds)
		e.ServerSQLM, e.BestSQLM = medianBound(e.ServerSQL), medianBound(e.BestSQL)
		if e.ServerSQLM != nil && e.ServerSQLM.TPS > 0 {
			e.RatioSrv = e.Median.ReqPerSec / e.ServerSQLM.TPS
		}
		if e.BestSQLM != nil && e.BestSQLM.TPS > 0 {
			e.RatioBest = e.Median.ReqPerSec / e.BestSQLM.TPS
		}
	}
	r.Targets = r.targets()
}

// add records e, or adds its rounds to the result of the same suite and
// workload of an earlier suite run (rounds that alternate two servers).
func (r *report) add(e *endpointResult) {
	if prev := r.result(e.Suite, e.Workload); prev != nil {
		prev.Rounds = append(prev.Rounds, e.Rounds...)
		prev.ServerSQL = append(prev.ServerSQL, e.ServerSQL...)
		prev.BestSQL = append(prev.BestSQL, e.BestSQL...)
		return
	}
	r.Results = append(r.Results, e)
}

// printBaselineRatios prints, for each workload measured on both servers,
// the measured server's figures over the baseline's: the medians' ratio
// and each round's (the two servers alternate, round by round).
func (r *report) printBaselineRatios(w io.Writer) {
	fmt.Fprintln(w, "\n| server | workload | req/s, this ÷ baseline | per round | CPU ms/req, this ÷ baseline | p99, this ÷ baseline |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|")
	for _, e := range r.Results {
		base := r.result(e.Suite+baselineLabel, e.Workload)
		if base == nil || e.Median.ReqPerSec == 0 || base.Median.ReqPerSec == 0 {
			continue
		}
		var rounds []string
		for i := range min(len(e.Rounds), len(base.Rounds)) {
			rounds = append(rounds, fmt.Sprintf("%.2f", e.Rounds[i].ReqPerSec/base.Rounds[i].ReqPerSec))
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %s | %.2f | %.2f |\n", e.Suite, e.Workload,
			e.Median.ReqPerSec/base.Median.ReqPerSec, strings.Join(rounds, ", "),
			e.Median.CPUmsPerReq/base.Median.CPUmsPerReq, e.Median.P99ms/base.Median.P99ms)
	}
}

func (r *report) result(suite, workload string) *endpointResult {
	for _, e := range r.Results {
		if e.Suite == suite && e.Workload == workload {
			return e
		}
	}
	return nil
}

// targets checks the goals set for the server against this run.
func (r *report) targets() []target {
	var ts []target
	add := func(name, want, unit string, got float64, measured, met bool) {
		ts = append(ts, target{Name: name, Want: want, Unit: unit, Got: got, Measured: measured, Met: measured && met})
	}
	ratio := func(workload string, least float64) {
		e := r.result("postgres", workload)
		ok := e != nil && e.BestSQLM != nil
		got := 0.0
		if ok {
			got = e.RatioBest
		}
		add(workload+" / best-SQL bound", fmt.Sprintf(">= %.0f%%", least*100), "ratio", got, ok, got >= least)
	}
	ratio(wlList, 0.60)
	if e := r.result("postgres", wlList); e != nil && e.BestSQLM != nil {
		add("list p99 / best-SQL p99", "<= 2x", "x", e.Median.P99ms/e.BestSQLM.P99ms, true, e.Median.P99ms <= 2*e.BestSQLM.P99ms)
	}
	ratio(wlCreate, 0.50)
	ratio(wlGet, 0.60)
	if e := r.result("postgres", wlList); e != nil {
		add("statements per list page", "<= 3", "", e.Statements, e.Statements >= 0, e.Statements >= 0 && e.Statements <= 3)
	}
	for _, p := range r.PeakRSS {
		if p.Suite == "postgres" { // the production server; SQLite's page caches live outside the Go heap
			add("server RSS under load ("+p.Suite+")", "<= 60 MB", "MB", p.MB, true, p.MB <= 60)
		}
	}
	for _, s := range r.Startup {
		add("start-up to healthy ("+s.Suite+")", "<= 150 ms", "ms", s.MS, true, s.MS <= 150)
	}
	add("binary size", "<= 30 MB", "MB", r.BinaryMB, r.BinaryMB > 0, r.BinaryMB <= 30)
	if e := r.result("sqlite", wlList); e != nil {
		add("sqlite list", ">= 1500 req/s", "req/s", e.Median.ReqPerSec, true, e.Median.ReqPerSec >= 1500)
	}
	return ts
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf[T any](items []T, field func(T) float64) float64 {
	xs := make([]float64, len(items))
	for i, it := range items {
		xs[i] = field(it)
	}
	return median(xs)
}

func medianLoad(rs []loadResult) loadResult {
	var errors int64
	var requests int64
	for _, r := range rs {
		errors += r.Errors
		requests += r.Requests
	}
	return loadResult{
		Requests:     requests,
		ReqPerSec:    medianOf(rs, func(r loadResult) float64 { return r.ReqPerSec }),
		P50ms:        medianOf(rs, func(r loadResult) float64 { return r.P50ms }),
		P90ms:        medianOf(rs, func(r loadResult) float64 { return r.P90ms }),
		P99ms:        medianOf(rs, func(r loadResult) float64 { return r.P99ms }),
		BytesPerReq:  medianOf(rs, func(r loadResult) float64 { return r.BytesPerReq }),
		Errors:       errors,
		CPUmsPerReq:  medianOf(rs, func(r loadResult) float64 { return r.CPUmsPerReq }),
		CPUCores:     medianOf(rs, func(r loadResult) float64 { return r.CPUCores }),
		MaxRSSMB:     medianOf(rs, func(r loadResult) float64 { return r.MaxRSSMB }),
		DurationSecs: medianOf(rs, func(r loadResult) float64 { return r.DurationSecs }),
	}
}

func medianBound(bs []boundResult) *boundResult {
	if len(bs) == 0 {
		return nil
	}
	var failed, tx int64
	for _, b := range bs {
		failed += b.Failed
		tx += b.Transactions
	}
	return &boundResult{
		TPS:          medianOf(bs, func(b boundResult) float64 { return b.TPS }),
		P50ms:        medianOf(bs, func(b boundResult) float64 { return b.P50ms }),
		P99ms:        medianOf(bs, func(b boundResult) float64 { return b.P99ms }),
		Transactions: tx,
		Failed:       failed,
	}
}

// printTable writes the results as a Markdown table, then the targets.
func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\nmachine: %d CPUs, %s, %d MB; load average %s at start, %s at end\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMB, r.Machine.LoadStart, r.Machine.LoadEnd)
	fmt.Fprintf(w, "dataset: %d users x %d tasks, %d tags each; wrk -t%d -c%d, %s per run, median of %d rounds\n",
		r.Settings.Dataset.Users, r.Settings.Dataset.TasksPerUser, r.Settings.Dataset.TagsPerUser,
		r.Settings.Threads, r.Settings.Connections, r.Settings.Duration, r.Settings.Rounds)
	fmt.Fprintf(w, "binary %.1f MB; migrate %.0f ms; list body %d bytes\n\n", r.BinaryMB, r.MigrateMS, r.ListBodyBytes)
	fmt.Fprintln(w, "| server | workload | req/s | p50 ms | p99 ms | CPU ms/req | RSS MB | SQL/req | server-SQL bound/s | ratio | best-SQL bound/s | ratio | best-SQL p99 ms | errors |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, e := range r.Results {
		m := e.Median
		stmts := "-"
		if e.Statements >= 0 {
			stmts = fmt.Sprintf("%.1f", e.Statements)
		}
		srvBound, srvRatio, bestBound, bestRatio, bestP99 := "-", "-", "-", "-", "-"
		if e.ServerSQLM != nil {
			srvBound, srvRatio = fmt.Sprintf("%.0f", e.ServerSQLM.TPS), fmt.Sprintf("%.0f%%", e.RatioSrv*100)
		}
		if e.BestSQLM != nil {
			bestBound, bestRatio = fmt.Sprintf("%.0f", e.BestSQLM.TPS), fmt.Sprintf("%.0f%%", e.RatioBest*100)
			bestP99 = fmt.Sprintf("%.1f", e.BestSQLM.P99ms)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.1f | %.1f | %.3f | %.0f | %s | %s | %s | %s | %s | %s | %d |\n",
			e.Suite, e.Workload, m.ReqPerSec, m.P50ms, m.P99ms, m.CPUmsPerReq, m.MaxRSSMB, stmts,
			srvBound, srvRatio, bestBound, bestRatio, bestP99, m.Errors)
	}
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		status := "met"
		switch {
		case !t.Measured:
			status = "NOT MEASURED"
		case !t.Met:
			status = "MISSED"
		}
		got := fmt.Sprintf("%.1f %s", t.Got, t.Unit)
		if t.Unit == "ratio" {
			got = fmt.Sprintf("%.0f%%", t.Got*100)
		}
		fmt.Fprintf(w, "target %-36s %-14s got %-14s %s\n", t.Name, t.Want, got, status)
	}
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return runtime.GOARCH
}

func memoryMB() int64 {
	data, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%d", &kb)
		}
	}
	return kb / 1024
}

func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func wrkVersion() string {
	out, _ := exec.Command("wrk", "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.SplitN(line, "Copyright", 2)[0])
}
