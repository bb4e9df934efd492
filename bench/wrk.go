package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"taskflow/app/apptest/proc"
)

// request is one HTTP request of a workload; wrk sends them in random order.
type request struct {
	Method, Path, Token, Body string
	// Keyed requests carry an Idempotency-Key unique to each send, so
	// every one is a first request and none a replay.
	Keyed bool
}

// workload is what one load run sends.
type workload struct {
	Name     string
	Requests []request
}

// Workload names, as the table and the JSON report them.
const (
	wlList       = "list"
	wlListOne    = "list one user"
	wlListFilter = "list filter+q"
	wlGet        = "get one"
	wlCreate     = "create"
	wlCreateKey  = "create+key"
	wlPatch      = "patch"
	wlMixed      = "mixed"
)

// filterQuery is the filtered list: open tasks whose title or description
// mentions "review" (about a third of the open ones), newest first.
const filterQuery = "?completed=false&q=review"

func listRequests(d dataset, tokens map[string]string, query string) []request {
	var out []request
	for _, u := range d.Users {
		out = append(out, request{Method: "GET", Path: "/api/v1/tasks" + query, Token: tokens[u.ID]})
	}
	return out
}

// listOneUserRequests is the list of one user from every connection: a
// user alone must get the whole server (middleware.FairShare).
func listOneUserRequests(d dataset, tokens map[string]string) []request {
	u := d.Users[0]
	return []request{{Method: "GET", Path: "/api/v1/tasks", Token: tokens[u.ID]}}
}

func getRequests(d dataset, tokens map[string]string) []request {
	var out []request
	for _, u := range d.Users {
		for _, id := range u.Sample {
			out = append(out, request{Method: "GET", Path: "/api/v1/tasks/" + id, Token: tokens[u.ID]})
		}
	}
	return out
}

// createRequests are new tasks with two of the user's tags each.
func createRequests(d dataset, tokens map[string]string) []request {
	rng := rand.New(rand.NewPCG(seedSeed, 2))
	var out []request
	for _, u := range d.Users {
		for i := range 4 {
			tags := u.TagIDs
			if len(tags) > 2 {
				j := rng.IntN(len(tags) - 1)
				tags = tags[j : j+2]
			}
			body, _ := json.Marshal(map[string]any{
				"title":       fmt.Sprintf("Benchmark task %d", i),
				"description": "Created by the benchmark.",
				"priority":    []string{"low", "medium", "high"}[i%3],
				"tag_ids":     tags,
			})
			out = append(out, request{Method: "POST", Path: "/api/v1/tasks", Token: tokens[u.ID], Body: string(body)})
		}
	}
	return out
}

// patchRequests change the title and completion of sampled tasks: nearly
// every one is a real write.
func patchRequests(d dataset, tokens map[string]string) []request {
	var out []request
	for _, u := range d.Users {
		for i, id := range u.Sample {
			body := fmt.Sprintf(`{"title":"Renamed by the benchmark %d","completed":%t}`, i, i%2 == 0)
			out = append(out, request{Method: "PATCH", Path: "/api/v1/tasks/" + id, Token: tokens[u.ID], Body: body})
		}
	}
	return out
}

// mixedRequests weights the others as a task app is used: mostly reading
// the list, some opening a task, a few writes (60/20/10/10).
func mixedRequests(list, get, create, patch []request) []request {
	var out []request
	add := func(reqs []request, n int) {
		for i := range n {
			out = append(out, reqs[i%len(reqs)])
		}
	}
	add(list, 600)
	add(get, 200)
	add(create, 100)
	add(patch, 100)
	return out
}

func workloads(d dataset, tokens map[string]string) []workload {
	list := listRequests(d, tokens, "")
	get := getRequests(d, tokens)
	create := createRequests(d, tokens)
	patch := patchRequests(d, tokens)
	return []workload{
		{Name: wlList, Requests: list},
		{Name: wlListOne, Requests: listOneUserRequests(d, tokens)},
		{Name: wlListFilter, Requests: listRequests(d, tokens, filterQuery)},
		{Name: wlGet, Requests: get},
		{Name: wlCreate, Requests: create},
		{Name: wlCreateKey, Requests: keyed(create)},
		{Name: wlPatch, Requests: patch},
		{Name: wlMixed, Requests: mixedRequests(list, get, create, patch)},
	}
}

// keyed returns reqs each sent with an Idempotency-Key of its own.
func keyed(reqs []request) []request {
	out := make([]request, len(reqs))
	for i, r := range reqs {
		r.Keyed = true
		out[i] = r
	}
	return out
}

// writes reports whether a workload changes the dataset.
func (w workload) writes() bool {
	for _, r := range w.Requests {
		if r.Method != "GET" {
			return true
		}
	}
	return false
}

// wrkScript is the Lua script of a workload: every request is formatted
// once per thread in init, so the load generator only picks one at random.
// done prints the summary as one JSON line.
func wrkScript(w workload) string {
	var b strings.Builder
	b.WriteString("local specs = {\n")
	for _, r := range w.Requests {
		fmt.Fprintf(&b, "{%s, %s, %s, %s, %t},\n", luaString(r.Method), luaString(r.Path), luaString(r.Token), luaString(r.Body), r.Keyed)
	}
	b.WriteString(`}
local reqs = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(1000 + (seed or 0))
  for i, s in ipairs(specs) do
    local headers = {["Authorization"] = "Bearer " .. s[3]}
    local body = nil
    if s[4] ~= "" then
      headers["Content-Type"] = "application/json"
      body = s[4]
    end
    reqs[i] = wrk.format(s[1], s[2], headers, body)
  end
end
-- a keyed request is formatted at each send, with a key no other send
-- of any thread or run uses.
local sent = 0
local run = tostring(os.time())
function request()
  local i = math.random(#reqs)
  local s = specs[i]
  if not s[5] then
    return reqs[i]
  end
  sent = sent + 1
  local headers = {["Authorization"] = "Bearer " .. s[3], ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, seed or 0, sent)}
  return wrk.format(s[1], s[2], headers, s[4])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`)
	return b.String()
}

func luaString(s string) string {
	// %q of Go is valid Lua for the ASCII text used here.
	return strconv.Quote(s)
}

// loadResult is one load run's outcome.
type loadResult struct {
	Requests     int64   `json:"requests"`
	ReqPerSec    float64 `json:"req_per_s"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	P99ms        float64 `json:"p99_ms"`
	BytesPerReq  float64 `json:"bytes_per_req"`
	Errors       int64   `json:"errors"`
	CPUmsPerReq  float64 `json:"server_cpu_ms_per_req"`
	CPUCores     float64 `json:"server_cpu_cores"`
	MaxRSSMB     float64 `json:"server_rss_max_mb"`
	DurationSecs float64 `json:"duration_s"`
}

type wrkSummary struct {
	Requests      int64   `json:"requests"`
	DurationUS    int64   `json:"duration_us"`
	Bytes         int64   `json:"bytes"`
	ErrorsConnect int64   `json:"errors_connect"`
	ErrorsRead    int64   `json:"errors_read"`
	ErrorsWrite   int64   `json:"errors_write"`
	ErrorsStatus  int64   `json:"errors_status"`
	ErrorsTimeout int64   `json:"errors_timeout"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P99us         float64 `json:"p99_us"`
}

// loadGen runs wrk against one server.
type loadGen struct {
	Dir         string // where the scripts go
	Connections int
	Threads     int
	Duration    time.Duration
}

// run drives srv with w for the configured time and measures the server's
// CPU and RSS meanwhile.
func (g loadGen) run(ctx context.Context, srv *server, w workload, d time.Duration) (loadResult, error) {
	script := filepath.Join(g.Dir, "wrk-"+strings.NewReplacer(" ", "-", "+", "-").Replace(w.Name)+".lua")
	if err := os.WriteFile(script, []byte(wrkScript(w)), 0o600); err != nil {
		return loadResult{}, err
	}
	before, err := proc.ReadStats(srv.Pid)
	if err != nil {
		return loadResult{}, err
	}
	rss := proc.SampleRSS(srv.Pid, 100*time.Millisecond)
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(g.Threads), "-c", strconv.Itoa(g.Connections),
		"-d", fmt.Sprintf("%.0fs", d.Seconds()), "--timeout", "10s", "-s", script, srv.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	maxRSS := proc.Peak(rss.Stop())
	after, err := proc.ReadStats(srv.Pid)
	if err != nil {
		return loadResult{}, err
	}
	if runErr != nil {
		return loadResult{}, fmt.Errorf("wrk: %w\n%s", runErr, out.String())
	}
	var sum wrkSummary
	_, line, ok := strings.Cut(out.String(), "BENCH ")
	if !ok {
		return loadResult{}, fmt.Errorf("wrk printed no summary:\n%s", out.String())
	}
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(line), &sum); err != nil {
		return loadResult{}, fmt.Errorf("read wrk summary: %w", err)
	}
	if sum.Requests == 0 {
		return loadResult{}, fmt.Errorf("wrk completed no request:\n%s", out.String())
	}
	secs := float64(sum.DurationUS) / 1e6
	cpu := after.CPU - before.CPU
	return loadResult{
		Requests:     sum.Requests,
		ReqPerSec:    float64(sum.Requests) / secs,
		P50ms:        sum.P50us / 1000,
		P90ms:        sum.P90us / 1000,
		P99ms:        sum.P99us / 1000,
		BytesPerReq:  float64(sum.Bytes) / float64(sum.Requests),
		Errors:       sum.ErrorsConnect + sum.ErrorsRead + sum.ErrorsWrite + sum.ErrorsStatus + sum.ErrorsTimeout,
		CPUmsPerReq:  float64(cpu.Microseconds()) / 1000 / float64(sum.Requests),
		CPUCores:     cpu.Seconds() / secs,
		MaxRSSMB:     float64(maxRSS) / 1024,
		DurationSecs: secs,
	}, nil
}
