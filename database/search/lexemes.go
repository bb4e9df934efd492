package search

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"taskflow/models"
)

// This file is the Go side of the rules (SQLite's): PostgreSQL applies the
// same ones in SQL (postgres.go), where its unaccent extension folds.

// foldedLetters are letters that lose their accent or ligature in
// PostgreSQL's unaccent rules but have no canonical decomposition, so that
// removing combining marks alone would keep them.
var foldedLetters = strings.NewReplacer(
	"ß", "ss", "ẞ", "SS", "æ", "ae", "Æ", "AE", "œ", "oe", "Œ", "OE",
	"ø", "o", "Ø", "O", "ł", "l", "Ł", "L", "đ", "d", "Đ", "D", "ð", "d", "Ð", "D",
	"þ", "th", "Þ", "TH", "ı", "i", "ħ", "h", "Ħ", "H", "ŧ", "t", "Ŧ", "T",
	"ŀ", "l", "Ŀ", "L", "ĸ", "q", "ŋ", "n", "Ŋ", "N", "ƒ", "f",
	"ﬀ", "ff", "ﬁ", "fi", "ﬂ", "fl", "ﬃ", "ffi", "ﬄ", "ffl", "ﬅ", "st", "ﬆ", "st",
)

// Fold is text as it is compared: letters without their accents (Unicode
// canonical decomposition, less the combining marks, and foldedLetters),
// in lower case.
func Fold(text string) string {
	if isASCII(text) { // most texts: nothing to decompose
		return strings.ToLower(text)
	}
	decomposed := norm.NFD.String(foldedLetters.Replace(text))
	var b strings.Builder
	b.Grow(len(decomposed))
	for _, r := range decomposed {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Lexemes returns the distinct lexemes of text (see the package comment),
// without a user's key.
func Lexemes(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, token := range strings.FieldsFunc(Fold(text), models.IsSearchSeparator) {
		for _, at := range wordStarts(token) {
			lexeme := truncate(token[at:], MaxWordLength)
			if !seen[lexeme] {
				seen[lexeme] = true
				out = append(out, lexeme)
			}
		}
	}
	return out
}

// wordStarts returns the byte offsets in token where a word may begin: its
// start, each run of letters and digits, and each other character, at
// most suffixesPerToken of them.
func wordStarts(token string) []int {
	starts := make([]int, 0, 4)
	inWord := false
	for i, r := range token {
		word := isWordRune(r)
		if i == 0 || !word || !inWord {
			starts = append(starts, i)
			if len(starts) == suffixesPerToken {
				break
			}
		}
		inWord = word
	}
	return starts
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if len(s) <= n { // fewer bytes than n: fewer runes too
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// QueryWords returns the folded words of q as they are looked up: each
// cut to MaxWordLength characters. Folding may split a word (a character
// that folds to a space) or empty it (a lone combining mark).
func QueryWords(q string) []string {
	var out []string
	for _, word := range strings.FieldsFunc(Fold(q), models.IsSearchSeparator) {
		out = append(out, truncate(word, MaxWordLength))
	}
	return out
}

// UserKey is the short key of userID that prefixes its lexemes: hex
// digits of its SHA-256. Two users sharing a key only share look-up costs;
// the list's user_id condition still keeps their tasks apart.
func UserKey(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return hex.EncodeToString(sum[:])[:keyLength]
}

// validUTF8 replaces invalid bytes, which no text from the API holds but a
// row written by other means might.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
