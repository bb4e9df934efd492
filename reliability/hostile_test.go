package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app/apptest"
)

// hostileEnv lifts the auth rate limits, which would otherwise answer most
// of the table with 429 before its input is even read.
var hostileEnv = map[string]string{"AUTH_RATE_LIMIT": "1000000", "LOGIN_FAIL_LIMIT": "1000000"}

// hostileValues go into every field of every JSON body, one at a time.
var hostileValues = []struct{ name, raw string }{
	{"sql or", `"' OR 1=1 --"`},
	{"sql drop tasks", `"'; DROP TABLE tasks; --"`},
	{"sql drop users", `"\"; DROP TABLE users; --"`},
	{"sql union", `"' UNION SELECT password_hash FROM users --"`},
	{"sql sleep", `"1'; SELECT pg_sleep(10); --"`},
	{"sql comment", `"admin'/*"`},
	{"like wildcards", `"%_\\%"`},
	{"nul", `"a\u0000b"`},
	{"only nul", `"\u0000"`},
	{"invalid utf-8", "\"\xff\xfe\xc3\x28\""},
	{"lone surrogate", `"\ud800x"`},
	{"control characters", `"\u0001\u001b[31m\r\n\t"`},
	{"bidi and zero width", `"\u202e\u200b\ufeff"`},
	{"emoji", `"😀🏳️‍🌈"`},
	{"html", `"<script>alert(1)</script>"`},
	{"format verbs", `"%s%n%x%d"`},
	{"path", `"../../etc/passwd"`},
	{"date past year 9999 in UTC", `"9999-12-31T23:59:59-23:59"`},
	{"date before year 1 in UTC", `"0000-01-01T00:00:00+23:59"`},
	{"empty", `""`},
	{"blank", `"   "`},
	{"10k characters", `"` + strings.Repeat("é", 10000) + `"`},
	{"1 MB", `"` + strings.Repeat("a", 1_000_000) + `"`},
	{"huge float", `1e400`},
	{"huge negative float", `-1e400`},
	{"huge integer", `99999999999999999999`},
	{"number", `123`},
	{"fraction", `0.5`},
	{"true", `true`},
	{"null", `null`},
	{"array of strings", `["a","b"]`},
	{"empty array", `[]`},
	{"array of objects", `[{"a":1}]`},
	{"object", `{"a":"b"}`},
	{"nested arrays", strings.Repeat("[", 500) + strings.Repeat("]", 500)},
}

// hostileBodies replace the whole body of every JSON endpoint.
var hostileBodies = []struct {
	name, body, contentType string
}{
	{"empty", "", ""},
	{"blank", " \n\t ", ""},
	{"null", "null", ""},
	{"array", "[]", ""},
	{"string", `"x"`, ""},
	{"huge number", "1e400", ""},
	{"truncated", `{"title":"a","name":"b`, ""},
	{"two documents", `{"title":"a"} {"title":"b"}`, ""},
	{"trailing garbage", `{"title":"a"}xyz`, ""},
	{"duplicate keys", `{"title":"a","title":"b","name":"a","name":"b","email":"x@example.com","email":1}`, ""},
	{"10k nested arrays", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), ""},
	{"10k nested objects", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), ""},
	{"deep nesting inside a field", `{"title":"a","name":"a","tag_ids":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, ""},
	{"byte order mark", "\xef\xbb\xbf{\"title\":\"a\"}", ""},
	{"raw invalid utf-8", "{\"title\":\"\xff\xfe\",\"name\":\"\xff\"}", ""},
	{"raw NUL in a string", "{\"title\":\"a\x00b\"}", ""},
	{"NUL after the document", "{\"title\":\"a\"}\x00", ""},
	{"many keys", manyKeys(20000), ""},
	{"over the body limit", `{"title":"` + strings.Repeat("a", 1<<20) + `"}`, ""},
	{"text/plain", `{"title":"a"}`, "text/plain"},
	{"form", "title=a&name=b", "application/x-www-form-urlencoded"},
	{"broken content type", `{"title":"a"}`, `application/json; charset="`},
	{"utf-16 declared", `{"title":"a"}`, "application/json; charset=utf-16"},
}

// hostileQueryValues go into every query parameter of the task list.
var hostileQueryValues = []string{
	"' OR 1=1 --", "'; DROP TABLE tasks; --", "title; DROP TABLE tasks", "1 UNION SELECT 1",
	"\x00", "a\x00b", "\xff\xfe", "%", "_", `\`, "*", "null", "[]", "{}",
	"99999999999999999999", "-99999999999999999999", "1e400", "-1", "0x10", " 1", "1.5", "true",
	strings.Repeat("a", 8000), "2025-13-45T99:99:99Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
}

var taskListParams = []string{"completed", "priority", "tag", "q", "due_before", "due_after", "sort", "limit", "offset"}

// TestHostileInput sends classic attack payloads in every field, body,
// parameter, path and header the API reads. Every answer must be a 2xx or
// a 4xx problem document (never a 5xx, never a broken connection, never a
// leaked internal), SQL must stay data, and afterwards the tables must
// still exist and another user's rows must be exactly as they were.
//
// The server is the real binary: the argon2 hashing of the auth payloads
// would take minutes inside a test process built with -race.
func TestHostileInput(t *testing.T) {
	skipInShort(t)
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		p := runServer(t, processEnv(db.URL, hostileEnv))
		h := newHostile(t, p.URL, openDirect(t, db.URL))
		start := time.Now()
		t.Run("fields", h.fields)
		t.Run("bodies", h.bodies)
		t.Run("query", h.query)
		t.Run("paths", h.paths)
		t.Run("headers", h.headers)
		h.requireVictimUntouched(t)
		t.Logf("hostile input (%s): requests sent %d in %s; 5xx seen %d; SQL strings stored verbatim %d; bodies over the limit answered by a reset instead of 413: %d",
			db.Name, h.sent, time.Since(start).Round(time.Millisecond), h.serverErrors, h.verbatim, h.resetOverLimit)
	})
}

// hostile is one run of the table: an attacker sending the payloads and a
// victim whose data must not change.
type hostile struct {
	base   string
	db     *gorm.DB // the server's database, opened directly
	client *http.Client

	attackerToken, attackerEmail, attackerPassword string
	attackerTask, attackerTag                      string
	victimToken, victimTask, victimTag             string
	victimSnapshot                                 map[string]string

	sent, serverErrors, verbatim, resetOverLimit int
}

const hostilePassword = "correct horse battery"

func newHostile(t *testing.T, baseURL string, db *gorm.DB) *hostile {
	t.Helper()
	h := &hostile{base: baseURL, db: db, client: newClient(true, 30*time.Second)}
	victim := register(t, baseURL, uniqueEmail(), hostilePassword)
	h.victimToken = victim.AccessToken
	h.victimTag = h.mustCreate(t, tagsPath, h.victimToken, `{"name":"victim tag","color":"#123456"}`)
	h.victimTask = h.mustCreate(t, tasksPath, h.victimToken, `{"title":"victim task","tag_ids":["`+h.victimTag+`"]}`)
	h.mustCreate(t, tasksPath, h.victimToken, `{"title":"victim's second task","description":"untouched","priority":"high"}`)
	h.victimSnapshot = h.snapshot(t)

	h.attackerEmail = uniqueEmail()
	attacker := register(t, baseURL, h.attackerEmail, hostilePassword)
	h.attackerToken = attacker.AccessToken
	h.attackerTag = h.mustCreate(t, tagsPath, h.attackerToken, `{"name":"attacker tag"}`)
	h.attackerTask = h.mustCreate(t, tasksPath, h.attackerToken, `{"title":"attacker task"}`)
	return h
}

func (h *hostile) mustCreate(t testing.TB, path, token, body string) string {
	t.Helper()
	o := send(context.Background(), h.client, h.base, call{Method: http.MethodPost, Path: path, Token: token, Body: []byte(body)})
	requireStatus(t, o, http.StatusCreated)
	return idOf(o.Body)
}

// snapshot is what the victim sees of its own data.
func (h *hostile) snapshot(t testing.TB) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, path := range []string{tasksPath + "?limit=100", tagsPath, authPath + "/me"} {
		o := send(context.Background(), h.client, h.base, call{Method: http.MethodGet, Path: path, Token: h.victimToken})
		requireStatus(t, o, http.StatusOK)
		snap[path] = string(o.Body)
	}
	return snap
}

func (h *hostile) requireVictimUntouched(t *testing.T) {
	t.Helper()
	for _, table := range []string{"users", "refresh_tokens", "tasks", "tags", "task_tags"} {
		if !h.db.Migrator().HasTable(table) {
			t.Errorf("table %s is gone", table)
		}
	}
	for path, before := range h.victimSnapshot {
		if after := h.snapshot(t)[path]; after != before {
			t.Errorf("the victim's %s changed:\nbefore %s\nafter  %s", path, before, after)
		}
	}
}

// endpoint is a JSON endpoint and a valid body for it; base is called for
// every request, so bodies that must be unique (a new email, a new tag
// name) are.
type endpoint struct {
	name, method, path string
	token              string
	base               func() map[string]string // field → raw JSON
}

func (h *hostile) endpoints() []endpoint {
	task := func() map[string]string {
		return map[string]string{"title": `"t"`, "description": `"d"`, "completed": `false`, "priority": `"low"`,
			"due_date": `"2030-01-02T03:04:05Z"`, "tag_ids": `["` + h.attackerTag + `"]`}
	}
	tag := func() map[string]string {
		return map[string]string{"name": `"` + uuid.NewString()[:12] + `"`, "color": `"#abcdef"`}
	}
	return []endpoint{
		{"create task", http.MethodPost, tasksPath, h.attackerToken, task},
		{"replace task", http.MethodPut, tasksPath + "/" + h.attackerTask, h.attackerToken, task},
		{"patch task", http.MethodPatch, tasksPath + "/" + h.attackerTask, h.attackerToken, task},
		{"create tag", http.MethodPost, tagsPath, h.attackerToken, tag},
		{"patch tag", http.MethodPatch, tagsPath + "/" + h.attackerTag, h.attackerToken, tag},
		{"register", http.MethodPost, authPath + "/register", "", func() map[string]string {
			return map[string]string{"email": `"` + uniqueEmail() + `"`, "password": `"` + hostilePassword + `"`, "name": `"n"`}
		}},
		{"login", http.MethodPost, authPath + "/login", "", func() map[string]string {
			return map[string]string{"email": `"` + h.attackerEmail + `"`, "password": `"` + hostilePassword + `"`}
		}},
		{"refresh", http.MethodPost, authPath + "/refresh", "", func() map[string]string {
			return map[string]string{"refresh_token": `"not-a-token"`}
		}},
		{"logout", http.MethodPost, authPath + "/logout", "", func() map[string]string {
			return map[string]string{"refresh_token": `"not-a-token"`}
		}},
	}
}

// fields puts every hostile value into every field of every endpoint.
func (h *hostile) fields(t *testing.T) {
	for _, ep := range h.endpoints() {
		for field := range ep.base() {
			for _, v := range hostileValues {
				body := ep.base()
				body[field] = v.raw
				o := h.send(t, fmt.Sprintf("%s, %s = %s", ep.name, field, v.name),
					call{Method: ep.method, Path: ep.path, Token: ep.token, Body: rawObject(body)})
				if strings.HasPrefix(v.name, "sql") && o.Status/100 == 2 && (field == "title" || field == "name") {
					h.requireVerbatim(t, ep, field, v.raw, o)
				}
			}
		}
	}
}

// requireVerbatim checks that an SQL string was stored as the text it is.
func (h *hostile) requireVerbatim(t *testing.T, ep endpoint, field, raw string, o outcome) {
	t.Helper()
	var want string
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	var got map[string]any
	decodeInto(t, o, &got)
	if field == "name" && ep.name == "register" {
		got, _ = got["user"].(map[string]any)
	}
	if got[field] != strings.TrimSpace(want) {
		t.Errorf("%s: %s stored as %v, want it verbatim: %q", ep.name, field, got[field], want)
		return
	}
	h.verbatim++
}

// bodies sends every hostile whole body to every endpoint.
func (h *hostile) bodies(t *testing.T) {
	for _, ep := range h.endpoints() {
		for _, b := range hostileBodies {
			c := call{Method: ep.method, Path: ep.path, Token: ep.token, Body: []byte(b.body), ContentType: b.contentType}
			if b.name == "over the body limit" {
				h.overLimit(t, ep.name, c)
				continue
			}
			o := h.send(t, ep.name+", body "+b.name, c)
			switch {
			case b.contentType != "" && !strings.HasPrefix(b.contentType, "application/json") && o.Status != http.StatusUnsupportedMediaType:
				t.Errorf("%s, %s body: want 415, got %s", ep.name, b.contentType, o)
			}
		}
	}
}

// overLimit sends a body over the limit. The server answers 413 as soon as
// it has read the headers and closes the connection without reading the
// body, so a client still writing it may see the connection reset instead
// of the 413 (TestLimits checks the 413 itself, without that race).
func (h *hostile) overLimit(t *testing.T, endpoint string, c call) {
	t.Helper()
	o := send(context.Background(), h.client, h.base, c)
	h.sent++
	switch {
	case o.Err != nil && o.Failure != clientTimedOut:
		h.resetOverLimit++
	case o.Status == http.StatusRequestEntityTooLarge && problemShape(o) == "":
	default:
		t.Errorf("%s, body over the limit: want a 413 problem, got %s", endpoint, o)
	}
}

// query puts every hostile value into every parameter of the task list,
// then a few malformed query strings.
func (h *hostile) query(t *testing.T) {
	for _, param := range taskListParams {
		for _, v := range hostileQueryValues {
			h.send(t, fmt.Sprintf("list, %s = %.40q", param, v),
				call{Method: http.MethodGet, Path: tasksPath + "?" + param + "=" + url.QueryEscape(v), Token: h.attackerToken})
		}
	}
	for _, raw := range []string{"limit=1&limit=2", "q=%", "q=%zz", "q=%00", "q=%ff", "&&&", "=x", "limit", "sort[]=title",
		"q=" + strings.Repeat("%41", 4000)} {
		h.send(t, fmt.Sprintf("list?%.40s", raw), call{Method: http.MethodGet, Path: tasksPath + "?" + raw, Token: h.attackerToken})
	}
	h.headersOverLimit(t, "list?q=<60 KB>", call{Method: http.MethodGet, Path: tasksPath + "?q=" + strings.Repeat("%41", 20000), Token: h.attackerToken})
}

// headersOverLimit sends a request line and headers larger than the
// server's header buffer. The server answers 431 and closes the connection
// without reading the rest, so a client still writing may see a reset
// instead, as with a body over the limit; anything else is an error.
func (h *hostile) headersOverLimit(t *testing.T, what string, c call) {
	t.Helper()
	o := send(context.Background(), h.client, h.base, c)
	h.sent++
	switch {
	case o.Err != nil && o.Failure != clientTimedOut:
		h.resetOverLimit++
	case o.Status == http.StatusRequestHeaderFieldsTooLarge && problemShape(o) == "":
	default:
		t.Errorf("%s: want a 431 problem, got %s", what, o)
	}
}

// paths sends hostile ids in the path of every item route, and the
// victim's own ids, which must be 404 for the attacker.
func (h *hostile) paths(t *testing.T) {
	ids := []string{url.PathEscape("' OR 1=1 --"), url.PathEscape("'; DROP TABLE tasks; --"), "%00", "%ff", "1", "-1",
		"99999999999999999999", strings.Repeat("a", 5000), "..%2F..%2Fetc%2Fpasswd", "00000000-0000-0000-0000-000000000000",
		"%20" + h.attackerTask, strings.ToUpper(h.attackerTask) + "x", "*"}
	bodies := map[string]string{http.MethodPut: `{"title":"x"}`, http.MethodPatch: `{"title":"x"}`}
	for _, collection := range []string{tasksPath, tagsPath} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			c := call{Method: method, Token: h.attackerToken}
			if body, ok := bodies[method]; ok {
				c.Body = []byte(body)
			}
			for _, id := range ids {
				c.Path = collection + "/" + id
				h.send(t, fmt.Sprintf("%s %.60s", method, c.Path), c)
			}
			victimID := h.victimTask
			if collection == tagsPath {
				victimID = h.victimTag
			}
			c.Path = collection + "/" + victimID
			o := h.send(t, method+" the victim's "+collection, c)
			tagsHaveNoPut := collection == tagsPath && method == http.MethodPut && o.Status == http.StatusMethodNotAllowed
			if o.Status != http.StatusNotFound && !tagsHaveNoPut {
				t.Errorf("%s another user's %s: want 404, got %s", method, collection, o)
			}
		}
	}
}

// headers sends hostile If-Match, Authorization and X-Request-ID values.
func (h *hostile) headers(t *testing.T) {
	for _, ifMatch := range []string{`"x"`, `W/"1"`, `"99999999999999999999"`, `"1", "2", *`, `""`, strings.Repeat(`"1",`, 1000)} {
		task := h.mustCreate(t, tasksPath, h.attackerToken, `{"title":"if-match target"}`)
		for _, method := range []string{http.MethodPatch, http.MethodPut, http.MethodDelete} {
			h.send(t, fmt.Sprintf("%s If-Match %.30q", method, ifMatch), call{Method: method, Path: tasksPath + "/" + task,
				Token: h.attackerToken, Body: []byte(`{"title":"y"}`), Headers: map[string]string{"If-Match": ifMatch}})
		}
	}
	tokens := map[string]string{
		"empty bearer":        "Bearer ",
		"basic":               "Basic YWRtaW46YWRtaW4=",
		"not a jwt":           "Bearer ' OR 1=1 --",
		"alg none":            "Bearer " + noneToken(),
		"9 KiB":               "Bearer " + strings.Repeat("a", 9<<10),
		"sub with NUL":        "Bearer " + apptest.Token(t, "a\x00b"),
		"sub is SQL":          "Bearer " + apptest.Token(t, "' OR 1=1 --"),
		"sub of 300 chars":    "Bearer " + apptest.Token(t, strings.Repeat("x", 300)),
		"numeric sub":         "Bearer " + apptest.SignHS256(t, apptest.JWTSecret, jwt.MapClaims{"sub": 42, "iss": apptest.Issuer, "exp": time.Now().Add(time.Hour).Unix()}),
		"exp as a string":     "Bearer " + apptest.SignHS256(t, apptest.JWTSecret, jwt.MapClaims{"sub": "u", "iss": apptest.Issuer, "exp": "tomorrow"}),
		"huge exp":            "Bearer " + apptest.SignHS256(t, apptest.JWTSecret, jwt.MapClaims{"sub": "u", "iss": apptest.Issuer, "exp": 1e300}),
		"many spaces":         "Bearer      " + h.attackerToken,
		"lower-case scheme":   "bearer " + h.attackerToken,
		"token, then garbage": "Bearer " + h.attackerToken + " garbage",
	}
	for name, value := range tokens {
		for _, path := range []string{tasksPath, tagsPath, authPath + "/me"} {
			h.send(t, "Authorization "+name+" on "+path, call{Method: http.MethodGet, Path: path, Headers: map[string]string{"Authorization": value}})
		}
	}
	for _, id := range []string{strings.Repeat("r", 500), "a b", "<script>", "' OR 1=1 --", "ü"} {
		o := h.send(t, fmt.Sprintf("X-Request-ID %.20q", id), call{Method: http.MethodGet, Path: "/health/live", Headers: map[string]string{"X-Request-ID": id}})
		if got := o.Header.Get("X-Request-ID"); got == id || got == "" {
			t.Errorf("X-Request-ID %.20q: want a fresh id in the response, got %.40q", id, got)
		}
	}
}

// send sends c and fails the subtest unless the answer is acceptable and
// leaks nothing internal.
func (h *hostile) send(t *testing.T, what string, c call) outcome {
	t.Helper()
	o := send(context.Background(), h.client, h.base, c)
	h.sent++
	if o.Status >= 500 {
		h.serverErrors++
	}
	if problem := acceptable(o); problem != "" {
		t.Errorf("%s: %s", what, problem)
	} else if leak := leakIn(o, c.Body); leak != "" {
		t.Errorf("%s: the response shows %q: %s", what, leak, o)
	}
	return o
}

// leakIn returns an internal detail an error response shows, or "". A
// marker the request itself carried does not count: a detail may quote
// the client's own input ("you already have a tag named ...").
func leakIn(o outcome, request []byte) string {
	if o.Status < 400 {
		return "" // a success may echo what the client stored, SQL or not
	}
	body, sent := bytes.ToLower(o.Body), bytes.ToLower(request)
	for _, marker := range []string{"SQLSTATE", "syntax error", "sqlite", "pgx", "gorm", "goroutine ", "panic", "runtime error", "argon2", "password_hash", ".go:"} {
		m := []byte(strings.ToLower(marker))
		if bytes.Contains(body, m) && !bytes.Contains(sent, m) {
			return marker
		}
	}
	return ""
}

// rawObject writes fields (raw JSON values) as one JSON object.
func rawObject(fields map[string]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for k, v := range fields {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString(`{"title":"a"`)
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

// noneToken is an unsigned token (alg "none") claiming to be anyone.
func noneToken() string {
	token := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "admin", "iss": apptest.Issuer, "exp": time.Now().Add(time.Hour).Unix()})
	signed, _ := token.SignedString(jwt.UnsafeAllowNoneSignatureType)
	return signed
}
