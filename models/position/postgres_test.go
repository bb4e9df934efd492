package position_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"taskflow/app/apptest"
	"taskflow/models/position"
)

// placement is one call of Between and what it answered.
type placement struct {
	before, after string
	jitter        float64
	key           string
	err           error
}

// connectWithFunctions opens a fresh PostgreSQL database and creates the
// functions there, twice, as a migration run at every start would.
func connectWithFunctions(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, apptest.Postgres(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	for range 2 {
		if _, err := conn.Exec(ctx, position.PostgresFunctions); err != nil {
			t.Fatalf("create the functions: %v", err)
		}
	}
	return conn
}

// TestPostgresMatchesBetween: taskflow_position_between returns what
// Between returns, NULL for ErrTooLong, on edge cases, random neighbours
// and the neighbours the insert patterns meet, each with jitters at the
// ends of [0, 1) and random ones.
func TestPostgresMatchesBetween(t *testing.T) {
	conn := connectWithFunctions(t)
	cases := parityCases()
	befores, afters := make([]pgtype.Text, len(cases)), make([]pgtype.Text, len(cases))
	jitters := make([]float64, len(cases))
	tooLong := 0
	for i, c := range cases {
		// The open end goes as NULL and as '' in turn.
		befores[i] = pgtype.Text{String: c.before, Valid: c.before != "" || i%2 == 0}
		afters[i] = pgtype.Text{String: c.after, Valid: c.after != "" || i%3 == 0}
		jitters[i] = c.jitter
		if errors.Is(c.err, position.ErrTooLong) {
			tooLong++
		} else if c.err != nil {
			t.Fatalf("Between(%q, %q, %v): %v", c.before, c.after, c.jitter, c.err)
		}
	}
	rows, err := conn.Query(context.Background(), `
		SELECT taskflow_position_between(b, a, j)
		FROM unnest($1::text[], $2::text[], $3::float8[]) WITH ORDINALITY AS c(b, a, j, n)
		ORDER BY n`, befores, afters, jitters)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[pgtype.Text])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cases) {
		t.Fatalf("%d rows for %d cases", len(got), len(cases))
	}
	mismatches := 0
	for i, c := range cases {
		want := pgtype.Text{String: c.key, Valid: c.err == nil}
		if got[i] != want && mismatches < 20 {
			mismatches++
			t.Errorf("(%q, %q, %v): PostgreSQL %v, Go %q, %v", c.before, c.after, c.jitter, got[i], c.key, c.err)
		}
	}
	t.Logf("%d placements compared, %d of them NULL for ErrTooLong", len(cases), tooLong)
	if tooLong == 0 || tooLong == len(cases) {
		t.Errorf("%d of %d placements say ErrTooLong: the cases miss a side", tooLong, len(cases))
	}
}

// parityCases returns the placements both sides must agree on: edge cases
// with jitters at the ends of [0, 1) and between, random neighbours and
// those the insert patterns meet with fewer.
func parityCases() []placement {
	rng := rand.New(rand.NewPCG(3, 4))
	long := strings.Repeat("z", position.MaxLen)
	edges := [][2]string{
		{"", ""}, {"", "1"}, {"z", ""}, {long, ""}, {"", strings.Repeat("0", position.MaxLen-1) + "1"},
		{"V", "W"}, {"V", "V1"}, {"V1", "V2"}, {"abc1", "abc2"}, {"Uzz", "V"}, {"V", "Vzzz"}, {"V", "V0001"},
		{"1", "z"}, {"1", "V1V"}, {"1", "V11V"}, {"V11V", "z"}, {"V11V", "V11VV"}, {"V", "V"}, {long, long},
		{strings.Repeat("V", 44) + "1", strings.Repeat("V", 44) + "2"},
		{strings.Repeat("V", 45) + "1", strings.Repeat("V", 45) + "2"},
		{strings.Repeat("a", 62) + "1", strings.Repeat("a", 62) + "2"},
		{strings.Repeat("a", 30) + "1", strings.Repeat("a", 30) + "1" + strings.Repeat("0", 31) + "1"},
	}
	edges = append(edges, gridEdges()...)
	var others [][2]string
	for range 2000 {
		before, after := position.RandomPair(rng)
		others = append(others, [2]string{before, after})
	}
	others = append(others, patternPairs(rng)...)

	var cases []placement
	add := func(pairs [][2]string, jitters ...float64) {
		for _, p := range pairs {
			for _, j := range append(jitters, rng.Float64(), rng.Float64()) {
				key, err := position.Between(p[0], p[1], j)
				cases = append(cases, placement{before: p[0], after: p[1], jitter: j, key: key, err: err})
			}
		}
	}
	add(edges, 0, 0.5, 1.0/3844, math.SmallestNonzeroFloat64, math.Nextafter(1, 0), 0.999)
	add(others, 0, math.Nextafter(1, 0))
	return cases
}

// gridEdges returns neighbours whose window holds exactly 3843 and exactly
// 3844 multiples of 62^-3, one side and the other of the choice between
// keys of 3 digits and of 4: before "01", after 4 digits, the middle
// window, in units of 62^-4.
func gridEdges() [][2]string {
	var pairs [][2]string
	const before = 62 * 62 // "01"
	for _, want := range []int64{3843, 3844} {
		for after := int64(1_800_000); after < 62*62*62*62; after++ {
			gap := after - before
			lo, hi := before+gap*7/16, before+gap*9/16
			if after%62 != 0 && (hi+61)/62-(lo+61)/62 == want {
				pairs = append(pairs, [2]string{"01", keyOf(after, 4)})
				break
			}
		}
	}
	if len(pairs) != 2 {
		panic("no neighbours on the edges of the grid")
	}
	return pairs
}

// keyOf returns v, a number of 62^-digits, as a key.
func keyOf(v int64, digits int) string {
	b := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		b[i] = position.Digits[v%62]
		v /= 62
	}
	return string(b)
}

// patternPairs returns the neighbours met while inserting right after one
// key, at the start, and on the narrow side of the newest, the last of
// which runs into ErrTooLong.
func patternPairs(rng *rand.Rand) [][2]string {
	var pairs [][2]string
	place := func(before, after string) string {
		pairs = append(pairs, [2]string{before, after})
		key, err := position.Between(before, after, rng.Float64())
		if err != nil {
			return ""
		}
		return key
	}
	x, next, first := "V", "W", "V"
	for range 300 {
		next = place(x, next)
		first = place("", first)
	}
	lo, hi := "V", "W"
	for i := 0; i < 300 && lo != "" && hi != ""; i++ {
		key := place(lo, hi)
		if i%2 == 0 {
			hi = key
		} else {
			lo = key
		}
	}
	return pairs
}

// TestPostgresRejectsWhatBetweenRejects: each argument Between calls
// invalid makes the function raise invalid_parameter_value, saying which.
func TestPostgresRejectsWhatBetweenRejects(t *testing.T) {
	conn := connectWithFunctions(t)
	for _, tc := range []struct {
		before, after string
		jitter        float64
		want          string
	}{
		{"V0", "", 0, `before "V0" is not a position key`},
		{"", "a-b", 0, `after "a-b" is not a position key`},
		{"", "é", 0, `after "é" is not a position key`},
		{strings.Repeat("1", position.MaxLen+1), "", 0, "is not a position key"},
		{"W", "V", 0, `before "W" sorts after after "V"`},
		{"V1", "V", 0.5, `before "V1" sorts after after "V"`},
		{"", "", -0.25, "jitter -0.25 is not in [0, 1)"},
		{"", "", 1, "jitter 1 is not in [0, 1)"},
		{"", "", math.NaN(), "jitter NaN is not in [0, 1)"},
	} {
		if _, err := position.Between(tc.before, tc.after, tc.jitter); !errors.Is(err, position.ErrInvalid) {
			t.Errorf("Between(%q, %q, %v): %v, want ErrInvalid", tc.before, tc.after, tc.jitter, err)
		}
		var key pgtype.Text
		err := conn.QueryRow(context.Background(), `SELECT taskflow_position_between($1, $2, $3)`,
			tc.before, tc.after, tc.jitter).Scan(&key)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22023" || !strings.Contains(pgErr.Message, tc.want) {
			t.Errorf("(%q, %q, %v): %v, %v; want error 22023 saying %s", tc.before, tc.after, tc.jitter, key, err, tc.want)
		}
	}
	var key pgtype.Text
	err := conn.QueryRow(context.Background(), `SELECT taskflow_position_between('V', 'W', NULL)`).Scan(&key)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "jitter NULL") {
		t.Errorf("a NULL jitter: %v, %v; want an error saying jitter NULL", key, err)
	}
}

// BenchmarkPostgresBetween measures the function inside PostgreSQL: one
// statement places 1,000 keys between two 6-byte keys; ns/op is per
// statement, so per key it is a thousandth of it.
func BenchmarkPostgresBetween(b *testing.B) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, apptest.Postgres(b).URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, position.PostgresFunctions); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(taskflow_position_between('V00y5r', 'V00y5rW', i / 1000.0))
			FROM generate_series(0, 999) i`).Scan(&n)
		if err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}
