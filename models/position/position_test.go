package position

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"1", true},
		{"V", true},
		{"z", true},
		{"0z", true},
		{"09AZaz", true},
		{strings.Repeat("z", MaxLen), true},
		{"", false},
		{"0", false},
		{"V0", false},
		{strings.Repeat("z", MaxLen+1), false},
		{"a-b", false},
		{"a b", false},
		{"é", false},
		{"V\x00", false},
		{"V/", false}, // '/' is the byte before '0'
		{"V:", false}, // ':' is the byte after '9'
		{"V@", false},
		{"V[", false},
		{"V`", false},
		{"V{", false},
	} {
		if got := Valid(tc.key); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestBetweenRejectsInvalidArguments(t *testing.T) {
	for _, tc := range []struct {
		before, after string
		jitter        float64
		want          string
	}{
		{"V0", "", 0, `before "V0" is not a position key`},
		{"", "a-b", 0, `after "a-b" is not a position key`},
		{strings.Repeat("1", MaxLen+1), "", 0, "is not a position key"},
		{"W", "V", 0, `before "W" sorts after after "V"`},
		{"V1", "V", 0, `before "V1" sorts after after "V"`},
		{"", "", -0.25, "jitter -0.25 is not in [0, 1)"},
		{"", "", 1, "jitter 1 is not in [0, 1)"},
		{"", "", math.NaN(), "jitter NaN is not in [0, 1)"},
		{"", "", math.Inf(1), "jitter +Inf is not in [0, 1)"},
	} {
		key, err := Between(tc.before, tc.after, tc.jitter)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Between(%q, %q, %v) = %q, %v; want ErrInvalid saying %s", tc.before, tc.after, tc.jitter, key, err, tc.want)
		}
	}
}

func TestBetweenSaysTooLong(t *testing.T) {
	long := strings.Repeat("V", RebalanceAt-3)
	for _, tc := range []struct{ before, after string }{
		{"V", "V"}, // equal neighbours: two keys made in one gap at once
		{long + "1", long + "2"},
		{strings.Repeat("z", MaxLen), ""},
	} {
		if key, err := Between(tc.before, tc.after, 0.5); !errors.Is(err, ErrTooLong) {
			t.Errorf("Between(%q, %q) = %q, %v; want ErrTooLong", tc.before, tc.after, key, err)
		}
	}
	// The middle of a gap of one unit of the last digit takes 3 more: a key
	// of RebalanceAt bytes.
	if key, err := Between(long[1:]+"1", long[1:]+"2", 0.5); err != nil || len(key) != RebalanceAt {
		t.Errorf("Between two keys of %d bytes = %q, %v; want a key of %d bytes", len(long), key, err, RebalanceAt)
	}
}

// randomKey returns a valid key of 1 to maxLen bytes.
func randomKey(rng *rand.Rand, maxLen int) string {
	b := make([]byte, 1+rng.IntN(maxLen))
	for i := range b {
		b[i] = Digits[rng.IntN(base)]
	}
	b[len(b)-1] = Digits[1+rng.IntN(base-1)]
	return string(b)
}

// randomPair returns two different keys in order, often sharing a prefix,
// or an open end.
func randomPair(rng *rand.Rand) (before, after string) {
	prefix := ""
	if rng.IntN(2) == 0 {
		prefix = randomKey(rng, 40)
	}
	x, y := prefix+randomKey(rng, 20), prefix+randomKey(rng, 20)
	switch rng.IntN(8) {
	case 0:
		return "", x
	case 1:
		return x, ""
	case 2:
		return "", ""
	}
	if len(x) > MaxLen || len(y) > MaxLen || x == y {
		return randomPair(rng)
	}
	return min(x, y), max(x, y)
}

// TestBetweenOrders: for random neighbours and jitters the key is valid,
// strictly between them, the same on a second call, and no longer than
// RebalanceAt, or ErrTooLong.
func TestBetweenOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		before, after := randomPair(rng)
		jitter := rng.Float64()
		key, err := Between(before, after, jitter)
		if errors.Is(err, ErrTooLong) {
			continue
		}
		if err != nil {
			t.Fatalf("Between(%q, %q, %v): %v", before, after, jitter, err)
		}
		if !Valid(key) || key <= before || (after != "" && key >= after) || len(key) > RebalanceAt {
			t.Fatalf("Between(%q, %q, %v) = %q: not a key strictly between them", before, after, jitter, key)
		}
		if again, _ := Between(before, after, jitter); again != key {
			t.Fatalf("Between(%q, %q, %v) = %q, then %q", before, after, jitter, key, again)
		}
	}
}

// TestBetweenPartsConcurrentMoves: jitters 1/1000 apart into one gap give
// 1,000 different keys, and all land where the placement says.
func TestBetweenPartsConcurrentMoves(t *testing.T) {
	for _, gap := range [][2]string{{"", ""}, {"V", "W"}, {"V", "V1"}, {"V", "VVVV"}, {"", "1"}, {"zzzzzz", ""},
		{strings.Repeat("a", 40), strings.Repeat("a", 39) + "b"}} {
		seen := map[string]bool{}
		for i := range 1000 {
			key, err := Between(gap[0], gap[1], float64(i)/1000)
			if err != nil {
				t.Fatal(err)
			}
			seen[key] = true
		}
		if len(seen) != 1000 {
			t.Errorf("between %q and %q: %d different keys of 1000", gap[0], gap[1], len(seen))
		}
	}
}

// fraction returns a key's value, "" being 0.
func fraction(key string) float64 {
	f, _ := new(big.Rat).SetFrac(value(key, len(key)), pow62(len(key))).Float64()
	return f
}

// shareOfGap returns where key lies in the gap between before and after.
func shareOfGap(before, key, after string) float64 {
	return (fraction(key) - fraction(before)) / (fractionOrOne(after) - fraction(before))
}

func fractionOrOne(after string) float64 {
	if after == "" {
		return 1
	}
	return fraction(after)
}

// TestBetweenBetsOnTheLongerNeighbour: 3 bytes longer gets the key within
// 1/3844 to 2/3844 of the gap from it; less than that, the middle.
func TestBetweenBetsOnTheLongerNeighbour(t *testing.T) {
	for _, tc := range []struct {
		before, after string
		lo, hi        float64 // where the key may land, as a share of the gap
	}{
		{"", "", 7.0 / 16, 9.0 / 16},
		{"V", "", 7.0 / 16, 9.0 / 16},
		{"VVV", "", 1.0 / 3844, 2.0 / 3844},
		{"VV", "", 7.0 / 16, 9.0 / 16},
		{"", "VVV", 1 - 2.0/3844, 1 - 1.0/3844},
		{"1", "V1V", 7.0 / 16, 9.0 / 16},
		{"1", "V11V", 1 - 2.0/3844, 1 - 1.0/3844},
		{"V11V", "z", 1.0 / 3844, 2.0 / 3844},
		{"V11V", "V11VV", 7.0 / 16, 9.0 / 16},
	} {
		for _, jitter := range []float64{0, 0.5, math.Nextafter(1, 0)} {
			key, err := Between(tc.before, tc.after, jitter)
			if err != nil {
				t.Fatal(err)
			}
			// Keys round to their last digit: one unit of it is the slack.
			slack := math.Pow(base, -float64(len(key))) / (fractionOrOne(tc.after) - fraction(tc.before))
			if f := shareOfGap(tc.before, key, tc.after); f < tc.lo-slack || f > tc.hi+slack {
				t.Errorf("Between(%q, %q, %v) = %q at %.6f of the gap, want %.6f to %.6f", tc.before, tc.after, jitter, key, f, tc.lo, tc.hi)
			}
		}
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct{ n, digits int }{{0, 0}, {1, 1}, {2, 1}, {61, 1}, {62, 2}, {100, 2}, {3843, 2}, {3844, 3}, {10_000, 3}} {
		keys := Spread(tc.n)
		if len(keys) != tc.n {
			t.Fatalf("Spread(%d): %d keys", tc.n, len(keys))
		}
		for i, k := range keys {
			if !Valid(k) || len(k) > tc.digits || (i > 0 && k <= keys[i-1]) {
				t.Fatalf("Spread(%d)[%d] = %q after %q: want valid ascending keys of at most %d bytes", tc.n, i, k, keys[max(i-1, 0)], tc.digits)
			}
		}
		if tc.n < 2 {
			continue
		}
		// Evenly spaced: the first key as far from 0 as the last from 1,
		// give or take a unit of the last digit.
		lo, hi := fraction(keys[0]), 1-fraction(keys[tc.n-1])
		if unit := math.Pow(base, -float64(tc.digits)); math.Abs(lo-hi) > unit*(1+1e-9) {
			t.Errorf("Spread(%d): first at %v, last %v from the end", tc.n, lo, hi)
		}
	}
	if got := Spread(-1); got != nil {
		t.Errorf("Spread(-1) = %v, want none", got)
	}
}

func ExampleBetween() {
	// A first task, one after it, and one between the two.
	first, _ := Between("", "", 0.5)
	second, _ := Between(first, "", 0.5)
	middle, _ := Between(first, second, 0.5)
	fmt.Println(first, second, middle)
	// Right after the first, again and again: the key near the newer,
	// longer neighbour leaves the room next to the first for the next.
	next := middle
	for range 1000 {
		next, _ = Between(first, next, 0.5)
	}
	fmt.Println(next, len(next))
	// Output:
	// Uzz V0jV1 V0MFV
	// V00y5rW 7
}

func ExampleSpread() {
	fmt.Println(Spread(3), Spread(100)[:3], slices.Max(Spread(100)))
	// Output: [F V k] [0c 1E 1q] zN
}

// BenchmarkBetween places a key after the last of 100 siblings, between
// two 6-byte keys (a typical move), and between two 40-byte keys.
func BenchmarkBetween(b *testing.B) {
	for _, gap := range []struct{ name, before, after string }{
		{"append", Spread(100)[99], ""},
		{"6 bytes", "V00y5r", "V00y5rW"},
		{"40 bytes", strings.Repeat("a", 39) + "1", strings.Repeat("a", 39) + "2"},
	} {
		b.Run(gap.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Between(gap.before, gap.after, 0.5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
