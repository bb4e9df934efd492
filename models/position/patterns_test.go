package position

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// inserts is how many keys each pattern places into one spot.
const inserts = 10_000

// siblings is a sorted list of keys that a pattern inserts into, re-spaced
// with Spread whenever the placement says ErrTooLong, as the stores do.
// The order holds indexes into the keys rather than the keys, so that
// shifting it moves no pointers.
type siblings struct {
	keys       []string
	order      []int32 // keys[order[i]] is the i-th sibling
	newest     int     // index in order of the key placed last
	place      func(before, after string, jitter float64) (string, error)
	rng        *rand.Rand
	rebalances int
	longest    int
}

func newSiblings(n int, place func(string, string, float64) (string, error), seed uint64) *siblings {
	s := &siblings{newest: -1, place: place, rng: rand.New(rand.NewPCG(seed, 1))}
	s.respace(n)
	return s
}

func (s *siblings) respace(n int) {
	s.keys, s.order = Spread(n), make([]int32, n)
	for i := range s.order {
		s.order[i] = int32(i)
	}
}

func (s *siblings) len() int { return len(s.order) }

func (s *siblings) key(i int) string { return s.keys[s.order[i]] }

// insert places a key at index i, between the siblings at i-1 and i.
func (s *siblings) insert(t testing.TB, i int) {
	t.Helper()
	jitter := s.rng.Float64()
	before, after := s.neighbours(i)
	key, err := s.place(before, after, jitter)
	if errors.Is(err, ErrTooLong) {
		s.respace(s.len())
		s.rebalances++
		before, after = s.neighbours(i)
		key, err = s.place(before, after, jitter)
	}
	if err != nil {
		t.Fatalf("insert at %d of %d: %v", i, s.len(), err)
	}
	if !(before < key && (after == "" || key < after)) || !Valid(key) {
		t.Fatalf("insert at %d: %q is not a key between %q and %q", i, key, before, after)
	}
	s.keys = append(s.keys, key)
	s.order = slices.Insert(s.order, i, int32(len(s.keys)-1))
	s.newest = i
	s.longest = max(s.longest, len(key))
}

func (s *siblings) neighbours(i int) (before, after string) {
	if i > 0 {
		before = s.key(i - 1)
	}
	if i < s.len() {
		after = s.key(i)
	}
	return before, after
}

// move takes the sibling at index from out and places a new key at index
// to of what remains.
func (s *siblings) move(t testing.TB, from, to int) {
	t.Helper()
	s.order = slices.Delete(s.order, from, from+1)
	s.insert(t, to)
}

func (s *siblings) sorted() []string {
	keys := make([]string, s.len())
	for i := range keys {
		keys[i] = s.key(i)
	}
	return keys
}

func (s *siblings) meanLen() float64 {
	total := 0
	for i := range s.len() {
		total += len(s.key(i))
	}
	return float64(total) / float64(s.len())
}

// pattern is a way of inserting into one spot again and again; step is
// called once per insert, with its number.
type pattern struct {
	name      string
	adversary bool // it inserts where the placement bets it will not
	start     int  // siblings before the first insert
	step      func(t testing.TB, s *siblings, n int)
}

// spotX is the index of X in the "after X" patterns.
const spotX = 10

var patterns = []pattern{
	{"right after X", false, 20, func(t testing.TB, s *siblings, _ int) { s.insert(t, spotX+1) }},
	{"chain after the newest", false, 20, func(t testing.TB, s *siblings, _ int) { s.insert(t, max(s.newest, spotX)+1) }},
	{"always first", false, 20, func(t testing.TB, s *siblings, _ int) { s.insert(t, 0) }},
	{"always last", false, 20, func(t testing.TB, s *siblings, _ int) { s.insert(t, s.len()) }},
	{"random spots (moves among 100)", false, 100, func(t testing.TB, s *siblings, _ int) {
		s.move(t, s.rng.IntN(s.len()), s.rng.IntN(s.len()))
	}},
	{"random spots (inserts)", false, 20, func(t testing.TB, s *siblings, _ int) { s.insert(t, s.rng.IntN(s.len()+1)) }},
	{"after X / after the newest", false, 20, func(t testing.TB, s *siblings, n int) {
		if n%2 == 0 || s.newest < 0 {
			s.insert(t, spotX+1)
		} else {
			s.insert(t, s.newest+1)
		}
	}},
	{"after / before the newest", true, 20, func(t testing.TB, s *siblings, n int) {
		switch {
		case s.newest < 0:
			s.insert(t, spotX+1)
		case n%2 == 0:
			s.insert(t, s.newest+1)
		default:
			s.insert(t, s.newest)
		}
	}},
	{"the narrower side of the newest", true, 20, func(t testing.TB, s *siblings, _ int) {
		if s.newest < 0 {
			s.insert(t, spotX+1)
			return
		}
		if s.narrowerBelow(s.newest) {
			s.insert(t, s.newest)
		} else {
			s.insert(t, s.newest+1)
		}
	}},
}

// narrowerBelow reports whether the gap below the i-th sibling is narrower
// than the gap above it.
func (s *siblings) narrowerBelow(i int) bool {
	below, _ := s.neighbours(i)
	_, above := s.neighbours(i + 1)
	digits := max(len(below), len(s.key(i)), len(above))
	top := pow62(digits)
	if above != "" {
		top = value(above, digits)
	}
	mid := value(s.key(i), digits)
	gapBelow := new(big.Int).Sub(mid, value(below, digits))
	return gapBelow.Cmp(top.Sub(top, mid)) < 0
}

// outcome is what a pattern left after its inserts.
type outcome struct {
	longest, rebalances int
	mean                float64
}

func (o outcome) String() string {
	every := "none"
	if o.rebalances > 0 {
		every = fmt.Sprintf("1 per %d inserts", inserts/o.rebalances)
	}
	return fmt.Sprintf("longest %2d, mean %4.1f, re-spacings %4d (%s)", o.longest, o.mean, o.rebalances, every)
}

func run(t testing.TB, p pattern, place func(string, string, float64) (string, error)) outcome {
	t.Helper()
	s := newSiblings(p.start, place, 7)
	for n := range inserts {
		p.step(t, s, n)
	}
	if keys := s.sorted(); !slices.IsSorted(keys) || len(slices.Compact(keys)) != s.len() {
		t.Fatalf("%s: the keys are not strictly ascending", p.name)
	}
	return outcome{longest: s.longest, rebalances: s.rebalances, mean: s.meanLen()}
}

// TestPatternLengths places 10,000 keys in each pattern and holds the
// lengths and re-spacings the package doc reports; -v prints them.
func TestPatternLengths(t *testing.T) {
	for _, p := range patterns {
		got := run(t, p, Between)
		t.Logf("%-32s %v", p.name, got)
		if p.adversary {
			if got.rebalances > inserts/150 {
				t.Errorf("%s: %v, want at most one re-spacing per 150 inserts", p.name, got)
			}
			continue
		}
		if got.rebalances != 0 || got.longest > 16 {
			t.Errorf("%s: %v, want keys of at most 16 bytes and no re-spacing", p.name, got)
		}
	}
}

// BenchmarkPatterns reports, for the package's placement and the ones it
// did not choose, the longest key and how many inserts come per
// re-spacing in each pattern. Run it once:
//
//	go test -run '^$' -bench Patterns -benchtime 1x ./models/position
func BenchmarkPatterns(b *testing.B) {
	anyMargin := defaultScheme
	anyMargin.betMargin = 1
	middle := defaultScheme
	middle.betMargin = MaxLen + 1
	for _, scheme := range []struct {
		name  string
		place func(string, string, float64) (string, error)
	}{
		{"chosen", Between},
		{"bet on any longer neighbour", anyMargin.between},
		{"middle always", middle.between},
		{"exact offset, no shortest key", exactOffset},
	} {
		for _, p := range patterns {
			b.Run(scheme.name+"/"+p.name, func(b *testing.B) {
				var got outcome
				for b.Loop() {
					got = run(b, p, scheme.place)
				}
				b.ReportMetric(float64(got.longest), "longest-bytes")
				b.ReportMetric(got.mean, "mean-bytes")
				b.ReportMetric(float64(got.rebalances), "re-spacings")
			})
		}
	}
}

// exactOffset is the bet without choosing the shortest key: the neighbours
// scaled to two more digits than the longer has, the key at 1 to 2 steps
// of gap/3844 from the longer neighbour. Every key comes out two digits
// longer than the longer neighbour.
func exactOffset(before, after string, jitter float64) (string, error) {
	if err := checkArgs(before, after, jitter); err != nil {
		return "", err
	}
	if before != "" && before == after {
		return "", ErrTooLong
	}
	digits := max(len(before), len(after)) + 2
	b, a := value(before, digits), pow62(digits)
	if after != "" {
		a = value(after, digits)
	}
	gap := new(big.Int).Sub(a, b)
	step := new(big.Int).Quo(gap, big.NewInt(3844))
	offset := new(big.Int).Mul(step, big.NewInt(int64(jitter*(1<<53))))
	offset.Rsh(offset, 53).Add(offset, step)
	var key *big.Int
	switch {
	case len(before) > len(after):
		key = b.Add(b, offset)
	case len(after) > len(before):
		key = a.Sub(a, offset)
	default:
		key = b.Add(b, gap.Quo(gap, big.NewInt(2)))
	}
	k := format(key, digits)
	if len(k) > RebalanceAt {
		return "", ErrTooLong
	}
	return k, nil
}
