// Package position makes the keys that hold a manual order: a task among
// its siblings, a project among a user's projects. Keys are strings the
// server hands out; siblings sort by comparing them byte by byte, so a
// client orders its local copy without asking, and a move writes one row.
//
// # Keys
//
// A key is 1 to MaxLen bytes over the 62 ASCII digits 0-9, A-Z, a-z, whose
// byte order is their digit order, read as the base-62 fraction
// 0.d1d2d3… in (0, 1). A key never ends with the digit 0, so byte order and
// numeric order agree (a key sorts after each of its prefixes) and there is
// always room between two different keys.
//
// # Where a new key goes
//
// Taking the midpoint halves the gap, so 10,000 inserts into one spot grow
// a key by a digit every 6 inserts. But inserts into one spot come in a few
// shapes: right after X again and again, in a chain after the newest, at
// the start, at the end. In each, the key lands between an old neighbour
// and the newest key, which is the longer of the two, and the next insert
// goes to the side of the old one. So when one neighbour is at least 3
// bytes longer than the other, Between puts the key 1/3844 to 2/3844 of the
// gap away from the longer one: the room on the other side shrinks by a
// factor of only 1 - 1.5/3844 per insert, a digit every ~11,000 inserts.
// Otherwise the lengths tell nothing and the key goes in the middle
// (7/16 to 9/16 of the gap).
//
// A bet can lose: insert always on the narrow side of the newest key and
// each bet costs two digits. No rule that sees only the two neighbours can
// tell that pattern from "right after X" when it places the key; what keeps
// the loss from compounding is the 3-byte margin. A lost bet leaves a
// sliver between the new key and the longer old neighbour; another bet
// there needs one of the two 3 bytes longer than the other, and each lost
// bet brings the new keys 2 bytes closer to that neighbour's length. So the
// losses stop within a few inserts, and an adversary is then held to the
// middle, about 1.2 bits per insert, as if the midpoint were taken
// everywhere. (Betting on any longer neighbour re-spaces every ~22 inserts
// under the same adversary, and loses 2 digits whenever a random move hits
// a sliver.)
//
// The key is not an exact point: any key in the window does, so Between
// takes the shortest, the multiples of the largest power 62^-n of which the
// window holds at least 3844, and the jitter picks one of them. A key is
// thus only as long as its gap asks for, about log62(1/gap) + 4 digits,
// whatever its neighbours' lengths (scaling the neighbours to their length
// + 2 digits and adding an exact offset grows a key by 2 digits per insert
// into one spot). And two moves into one gap at the same moment get keys
// that differ unless their jitters fall on the same one of at least 3844:
// jitters 1/3844 apart or more always give different keys.
//
// # What it measured
//
// 10,000 inserts into one spot among 20 siblings spread evenly: the longest
// key in bytes and the re-spacings, worst of 12 seeds (TestPatternLengths
// -v prints one seed; BenchmarkPatterns sets other placements beside it):
//
//	right after X                      7, none
//	chain after the newest             7, none
//	always first / always last         6, none
//	after X / after the newest         7, none
//	random spots (inserts)            11, none
//	random spots (moves among 100)    16, none (26 after 1,000,000 moves)
//	after / before the newest         48, one per 256 inserts
//	the narrower side of the newest   48, one per 232 inserts
//
// The middle everywhere re-spaces every ~260 inserts into one spot in the
// first four patterns.
//
// # Re-spacing
//
// Between returns ErrTooLong when the key would be longer than RebalanceAt,
// or when the neighbours are equal: the caller then gives the siblings
// fresh keys from Spread, in their order, and places the key again. Keys
// of at most RebalanceAt bytes leave room below MaxLen for keys made by
// other means.
//
// The same Between runs inside PostgreSQL as taskflow_position_between
// (PostgresFunctions), so a statement can place a row without a round trip;
// both return the same key for the same neighbours and jitter.
package position

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Digits are the digits of a key, in ascending order of value and of byte.
const Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	// MaxLen is the length of the longest valid key.
	MaxLen = 63
	// RebalanceAt is the length of the longest key Between makes; past it,
	// it returns ErrTooLong.
	RebalanceAt = 48
)

// ErrTooLong says no key of at most RebalanceAt bytes lies between the two
// neighbours (or they are equal): re-space the siblings with Spread.
var ErrTooLong = errors.New("position: no room between the neighbours; re-space the siblings")

// ErrInvalid says an argument of Between is not a key, the neighbours are
// out of order, or the jitter is outside [0, 1).
var ErrInvalid = errors.New("position: invalid argument")

const base = 62

// digitValue maps a byte to its digit value, or -1.
var digitValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(Digits) {
		t[Digits[i]] = int8(i)
	}
	return t
}()

// Valid reports whether key is a key: 1 to MaxLen digits, not ending in 0.
func Valid(key string) bool {
	if len(key) == 0 || len(key) > MaxLen || key[len(key)-1] == '0' {
		return false
	}
	for i := range len(key) {
		if digitValue[key[i]] < 0 {
			return false
		}
	}
	return true
}

// window is a part of the gap, from lo/den to hi/den of it.
type window struct{ lo, hi, den int64 }

// scheme holds the constants of the placement; the package uses
// defaultScheme, and the tests compare it with others.
type scheme struct {
	nearBefore, nearAfter, middle window
	// choices is the fewest keys the window must offer the jitter.
	choices int64
	// betMargin is how many bytes longer than the other a neighbour must be
	// for the key to go near it.
	betMargin int
}

var defaultScheme = scheme{
	nearBefore: window{1, 2, 3844},
	nearAfter:  window{3842, 3843, 3844},
	middle:     window{7, 9, 16},
	choices:    3844,
	betMargin:  3,
}

// Between returns a key that sorts strictly between before and after,
// where "" means the open end (before "" is 0, after "" is 1). jitter, in
// [0, 1), picks one of at least 3844 equally good keys: pass a random
// number, so that concurrent moves into one gap get different keys. The
// same arguments always give the same key.
//
// It returns ErrTooLong when the key would be longer than RebalanceAt or
// before equals after, and an error wrapping ErrInvalid when an argument
// is not a key, before does not sort before after, or jitter is outside
// [0, 1).
func Between(before, after string, jitter float64) (string, error) {
	return defaultScheme.between(before, after, jitter)
}

func (s scheme) between(before, after string, jitter float64) (string, error) {
	if err := checkArgs(before, after, jitter); err != nil {
		return "", err
	}
	if before != "" && before == after {
		return "", ErrTooLong
	}
	lo, hi, digits := s.bounds(before, after)
	key := pickKey(lo, hi, digits, s.choices, jitter)
	if len(key) > RebalanceAt {
		return "", ErrTooLong
	}
	return key, nil
}

func checkArgs(before, after string, jitter float64) error {
	if !(jitter >= 0 && jitter < 1) {
		return fmt.Errorf("%w: jitter %v is not in [0, 1)", ErrInvalid, jitter)
	}
	if before != "" && !Valid(before) {
		return fmt.Errorf("%w: before %q is not a position key", ErrInvalid, before)
	}
	if after != "" && !Valid(after) {
		return fmt.Errorf("%w: after %q is not a position key", ErrInvalid, after)
	}
	if before != "" && after != "" && before > after {
		return fmt.Errorf("%w: before %q sorts after after %q", ErrInvalid, before, after)
	}
	return nil
}

// side picks the window for neighbours of these lengths: near the one at
// least betMargin bytes longer, else the middle.
func (s scheme) side(lenBefore, lenAfter int) window {
	switch {
	case lenBefore >= lenAfter+s.betMargin:
		return s.nearBefore
	case lenAfter >= lenBefore+s.betMargin:
		return s.nearAfter
	}
	return s.middle
}

// bounds returns the window [lo, hi) as integers in units of 62^-digits,
// digits grown from the neighbours' longer length until the window holds
// at least s.choices units.
func (s scheme) bounds(before, after string) (lo, hi *big.Int, digits int) {
	w := s.side(len(before), len(after))
	digits = max(len(before), len(after))
	b := value(before, digits)
	gap := pow62(digits)
	if after != "" {
		gap = value(after, digits)
	}
	gap.Sub(gap, b)
	choices := big.NewInt(s.choices)
	for {
		lo, hi = share(b, gap, w.lo, w.den), share(b, gap, w.hi, w.den)
		if new(big.Int).Sub(hi, lo).Cmp(choices) >= 0 {
			return lo, hi, digits
		}
		b.Mul(b, sixtyTwo)
		gap.Mul(gap, sixtyTwo)
		digits++
	}
}

// pickKey returns the key the jitter picks among the shortest in [lo, hi)
// (units of 62^-digits): the multiples of the largest power of 62 of which
// the window holds at least choices.
func pickKey(lo, hi *big.Int, digits int, choices int64, jitter float64) string {
	unit, coarser := big.NewInt(1), big.NewInt(base)
	for count(lo, hi, coarser).Cmp(big.NewInt(choices)) >= 0 {
		unit.Set(coarser)
		coarser.Mul(coarser, sixtyTwo)
		digits--
	}
	// At most 62*choices: the loop stopped at fewer than choices multiples
	// of 62*unit. So n is exact as a float64.
	n := count(lo, hi, unit).Int64()
	pick := int64(math.Floor(jitter * float64(n)))
	if pick >= n { // not for jitter < 1 and n < 2^53; but never past the window
		pick = n - 1
	}
	q := ceilDiv(lo, unit)
	q.Add(q, big.NewInt(pick))
	return format(q, digits)
}

var sixtyTwo = big.NewInt(base)

// share returns b + floor(gap*num/den).
func share(b, gap *big.Int, num, den int64) *big.Int {
	x := new(big.Int).Mul(gap, big.NewInt(num))
	x.Quo(x, big.NewInt(den))
	return x.Add(x, b)
}

// count returns how many multiples of unit lie in [lo, hi).
func count(lo, hi, unit *big.Int) *big.Int {
	return new(big.Int).Sub(ceilDiv(hi, unit), ceilDiv(lo, unit))
}

// ceilDiv returns ceil(x/d) for x >= 0, d > 0.
func ceilDiv(x, d *big.Int) *big.Int {
	q := new(big.Int).Add(x, d)
	q.Sub(q, big.NewInt(1))
	return q.Quo(q, d)
}

func pow62(n int) *big.Int {
	return new(big.Int).Exp(sixtyTwo, big.NewInt(int64(n)), nil)
}

// value returns key as an integer in units of 62^-digits; "" is 0.
func value(key string, digits int) *big.Int {
	v := new(big.Int)
	if key != "" {
		v.SetString(swapCase(key), base) // math/big orders its base-62 digits 0-9a-zA-Z
	}
	return v.Mul(v, pow62(digits-len(key)))
}

// format returns q, a number of 62^-digits, as a key: digits long with
// leading zeros, trailing zeros dropped.
func format(q *big.Int, digits int) string {
	text := swapCase(q.Text(base))
	return strings.TrimRight(strings.Repeat("0", digits-len(text))+text, "0")
}

// swapCase turns a key into math/big's base-62 digits and back.
func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// Spread returns n keys evenly spaced over (0, 1), in ascending order, each
// as short as n allows: the i-th (from 0) is (i+1)/(n+1) rounded down to
// the fewest digits d with 62^d > n. It gives siblings fresh keys, oldest
// or first one first.
func Spread(n int) []string {
	if n <= 0 {
		return nil
	}
	digits, size := 1, big.NewInt(base)
	for size.Cmp(big.NewInt(int64(n))) <= 0 {
		size.Mul(size, sixtyTwo)
		digits++
	}
	keys := make([]string, n)
	slots := big.NewInt(int64(n) + 1)
	for i := range keys {
		q := new(big.Int).Mul(size, big.NewInt(int64(i)+1))
		keys[i] = format(q.Quo(q, slots), digits)
	}
	return keys
}
