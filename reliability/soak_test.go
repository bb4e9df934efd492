package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
	"taskflow/client"
)

const (
	soakClients = 64
	soakUsers   = 12
	// soakMaxRSS bounds the server's resident memory at the end of the soak.
	soakMaxRSS = 150 << 10 // KiB
	// soakMaxGrowth bounds how much higher RSS may peak in the second half of
	// the soak than in the first, plus soakGrowthSlack for the runtime's own
	// step changes: a leak keeps climbing, a steady server levels off.
	soakMaxGrowth   = 0.25
	soakGrowthSlack = 8 << 10 // KiB
)

// TestSoak drives the real binary with 64 concurrent clients acting as 12
// users, mixing list, create, patch and delete, for RELIABILITY_SOAK
// (default 20s). It requires zero 5xx and zero transport errors, that no
// user ever lists a task it did not create, that every acknowledged write
// is stored under its user and every acknowledged delete is gone, and that
// the server's memory levels off.
func TestSoak(t *testing.T) {
	skipInShort(t)
	duration := soakDuration(t)
	db := apptest.Postgres(t)
	p := runServer(t, processEnv(db.URL, nil))
	users := make([]soakUser, soakUsers)
	for i := range users {
		users[i] = newSoakUser(t, i)
	}

	rss := proc.SampleRSS(p.Pid(), 250*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	httpClient := newClient(true, 30*time.Second)
	clients := make([]*soakClient, soakClients)
	var wg sync.WaitGroup
	started := time.Now()
	for i := range clients {
		clients[i] = &soakClient{user: users[i%soakUsers], id: i, live: map[string]bool{}, http: httpClient, base: p.URL,
			rng: rand.New(rand.NewPCG(uint64(i), 42))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i].run(ctx)
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	memory := summarizeRSS(rss.Stop(), started, elapsed)

	total := soakTotals(clients)
	stored := storedTasks(t, openDirect(t, db.URL))
	live, found, wrongOwner, stale, undeleted := 0, 0, 0, 0, 0
	for _, c := range clients {
		for id, completed := range c.live {
			live++
			switch task, ok := stored[id]; {
			case !ok:
			case task.UserID != c.user.id:
				wrongOwner++
			case task.Completed != completed:
				stale++
			default:
				found++
			}
		}
		for _, id := range c.deleted {
			if _, ok := stored[id]; ok {
				undeleted++
			}
		}
	}
	t.Logf("soak: %d clients, %d users, %s: requests sent %d (%.0f/s): list %d, create %d, patch %d, delete %d",
		soakClients, soakUsers, elapsed.Round(time.Millisecond), total.requests, float64(total.requests)/elapsed.Seconds(),
		total.ops["list"], total.ops["create"], total.ops["patch"], total.ops["delete"])
	t.Logf("soak: 5xx seen %d; unexpected statuses %d; transport errors %d; cross-user rows listed %d; latency p50 %s p99 %s max %s",
		total.serverErrors, total.unexpected, total.transportErrors, total.crossUser, total.p(0.50), total.p(0.99), total.p(1))
	t.Logf("soak: writes acknowledged: %d creates, %d patches, %d deletes; tasks alive by the clients' account %d, found as last written %d (missing %d, under another user %d, with a lost patch %d); deleted rows still there %d",
		total.acked["create"], total.acked["patch"], total.acked["delete"], live, found, live-found-wrongOwner-stale, wrongOwner, stale, undeleted)
	t.Logf("soak: server RSS start %d MiB, middle %d MiB, end %d MiB; peak in the first half %d MiB, in the second %d MiB (%d samples)",
		memory.start>>10, memory.middle>>10, memory.end>>10, memory.firstPeak>>10, memory.secondPeak>>10, memory.samples)

	for _, example := range total.examples {
		t.Error(example)
	}
	if total.serverErrors > 0 || total.transportErrors > 0 || total.unexpected > 0 {
		t.Errorf("want zero 5xx, transport errors and unexpected statuses; got %d, %d, %d", total.serverErrors, total.transportErrors, total.unexpected)
	}
	if total.crossUser > 0 || wrongOwner > 0 {
		t.Errorf("rows crossed users: %d listed to the wrong user, %d stored under the wrong user", total.crossUser, wrongOwner)
	}
	if found != live || undeleted > 0 {
		t.Errorf("acknowledged writes not stored as acknowledged: %d of %d live tasks found as last written, %d deleted rows still there", found, live, undeleted)
	}
	if memory.end > soakMaxRSS {
		t.Errorf("server RSS at the end is %d MiB, over the %d MiB bound", memory.end>>10, soakMaxRSS>>10)
	}
	if limit := int64(float64(memory.firstPeak)*(1+soakMaxGrowth)) + soakGrowthSlack; memory.secondPeak > limit {
		t.Errorf("server RSS kept growing: peak %d MiB in the first half, %d MiB in the second (bound %d MiB)",
			memory.firstPeak>>10, memory.secondPeak>>10, limit>>10)
	}
	if lines := p.ErrorLines(); len(lines) > 0 {
		t.Errorf("the server logged %d errors, e.g. %s", len(lines), lines[0])
	}
}

func soakDuration(t testing.TB) time.Duration {
	t.Helper()
	raw := os.Getenv("RELIABILITY_SOAK")
	if raw == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		t.Fatalf("RELIABILITY_SOAK must be a duration such as 60s, got %q", raw)
	}
	return d
}

type soakUser struct {
	id     string
	token  string
	prefix string // every title this user's clients write starts with it
}

func newSoakUser(t testing.TB, i int) soakUser {
	t.Helper()
	id, token := userToken(t)
	return soakUser{id: id, token: token, prefix: fmt.Sprintf("soak-u%02d-", i)}
}

// soakClient is one of the concurrent clients. It patches and deletes only
// the tasks it created, so what each request should return is known.
type soakClient struct {
	user soakUser
	id   int
	http *http.Client
	base string
	rng  *rand.Rand

	live    map[string]bool // id → completed, as last acknowledged
	deleted []string

	requests, serverErrors, transportErrors, unexpected, crossUser int
	ops, acked                                                     map[string]int // requests sent and answered as wanted, by operation
	latencies                                                      []time.Duration
	examples                                                       []string
}

var listQueries = []string{
	"?limit=20",
	"?limit=50&sort=title",
	"?completed=false&sort=-priority",
	"?priority=high&limit=10",
	"?offset=10&limit=10&sort=created_at",
}

func (c *soakClient) run(ctx context.Context) {
	c.ops, c.acked = map[string]int{}, map[string]int{}
	for n := 0; ctx.Err() == nil; n++ {
		roll := c.rng.IntN(100)
		switch {
		case roll < 40 || len(c.live) == 0 && roll >= 70:
			c.list()
		case roll < 70:
			c.create(n)
		case roll < 90:
			c.patch()
		default:
			c.remove()
		}
	}
}

func (c *soakClient) list() {
	q := listQueries[c.rng.IntN(len(listQueries))]
	o := c.do("list", call{Method: http.MethodGet, Path: tasksPath + q}, http.StatusOK)
	if o.Status != http.StatusOK {
		return
	}
	var page client.TaskList
	if err := json.Unmarshal(o.Body, &page); err != nil {
		c.fail("list: body is not a page: %v", err)
		return
	}
	for _, item := range page.Items {
		if !strings.HasPrefix(item.Title, c.user.prefix) {
			c.crossUser++
			c.fail("user %s listed task %s titled %q, not one of its own", c.user.prefix, item.ID, item.Title)
		}
	}
}

func (c *soakClient) create(n int) {
	priority := []string{"low", "medium", "high"}[c.rng.IntN(3)]
	body := fmt.Sprintf(`{"title":"%sc%02d-%d","description":"soak","priority":"%s"}`, c.user.prefix, c.id, n, priority)
	o := c.do("create", call{Method: http.MethodPost, Path: tasksPath, Body: []byte(body)}, http.StatusCreated)
	if o.Status == http.StatusCreated {
		if id := idOf(o.Body); id != "" {
			c.live[id] = false
		} else {
			c.fail("create: 201 without an id: %s", o)
		}
	}
}

func (c *soakClient) patch() {
	id := c.pick()
	completed := c.rng.IntN(2) == 0
	o := c.do("patch", call{Method: http.MethodPatch, Path: tasksPath + "/" + id, Body: []byte(fmt.Sprintf(`{"completed":%t}`, completed))}, http.StatusOK)
	if o.Status == http.StatusOK {
		c.live[id] = completed
	}
}

func (c *soakClient) remove() {
	id := c.pick()
	o := c.do("delete", call{Method: http.MethodDelete, Path: tasksPath + "/" + id}, http.StatusNoContent)
	if o.Status == http.StatusNoContent {
		delete(c.live, id)
		c.deleted = append(c.deleted, id)
	}
}

// pick returns one of this client's live tasks (map order is random enough).
func (c *soakClient) pick() string {
	for id := range c.live {
		return id
	}
	return ""
}

func (c *soakClient) do(op string, req call, want int) outcome {
	req.Token = c.user.token
	o := send(context.Background(), c.http, c.base, req)
	c.requests++
	c.ops[op]++
	c.latencies = append(c.latencies, o.Duration)
	switch {
	case o.Err != nil:
		c.transportErrors++
		c.fail("%s: %s", op, o)
	case o.Status >= 500:
		c.serverErrors++
		c.fail("%s: %s", op, o)
	case o.Status != want:
		c.unexpected++
		c.fail("%s: want %d, got %s", op, want, o)
	default:
		c.acked[op]++
	}
	return o
}

func (c *soakClient) fail(format string, args ...any) {
	if len(c.examples) < 3 {
		c.examples = append(c.examples, fmt.Sprintf(format, args...))
	}
}

type soakTotal struct {
	requests, serverErrors, transportErrors, unexpected, crossUser int
	ops, acked                                                     map[string]int
	latencies                                                      []time.Duration
	examples                                                       []string
}

func soakTotals(clients []*soakClient) soakTotal {
	total := soakTotal{ops: map[string]int{}, acked: map[string]int{}}
	for _, c := range clients {
		total.requests += c.requests
		total.serverErrors += c.serverErrors
		total.transportErrors += c.transportErrors
		total.unexpected += c.unexpected
		total.crossUser += c.crossUser
		for op, n := range c.ops {
			total.ops[op] += n
		}
		for op, n := range c.acked {
			total.acked[op] += n
		}
		total.latencies = append(total.latencies, c.latencies...)
		if len(total.examples) < 10 {
			total.examples = append(total.examples, c.examples...)
		}
	}
	slices.Sort(total.latencies)
	return total
}

// p returns the q-quantile latency.
func (s soakTotal) p(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	i := min(int(q*float64(len(s.latencies))), len(s.latencies)-1)
	return s.latencies[i].Round(100 * time.Microsecond)
}

// rssFigures sum up the server's RSS readings over the soak, in KiB.
type rssFigures struct {
	start, middle, end    int64 // before the load, at its half-way point, at its end
	firstPeak, secondPeak int64 // the highest reading in each half
	samples               int
}

// summarizeRSS sums up readings taken from just before the load began at
// started until it ended elapsed later.
func summarizeRSS(samples []proc.Sample, started time.Time, elapsed time.Duration) rssFigures {
	f := rssFigures{samples: len(samples)}
	if len(samples) > 0 {
		f.start, f.middle, f.end = samples[0].RSSKiB, samples[0].RSSKiB, samples[0].RSSKiB
	}
	half := started.Add(elapsed / 2)
	for _, sample := range samples {
		if !sample.At.After(half) {
			f.middle = sample.RSSKiB
			f.firstPeak = max(f.firstPeak, sample.RSSKiB)
		} else {
			f.secondPeak = max(f.secondPeak, sample.RSSKiB)
		}
		f.end = sample.RSSKiB
	}
	return f
}
