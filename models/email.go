package models

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"go.mau.fi/util/confusable"
)

// EmailLookAlikeProblem says why a new account may not take email, an
// address in NormalizeEmail's form, because a person would read it as
// another address; "" when nothing is wrong. The rules follow Unicode
// TS #39 and are applied to the name (before the @) and to each label of
// the domain apart, as browsers judge domain labels:
//
//   - a quoted name: "lookalike"@example.com is the mailbox
//     lookalike@example.com;
//   - a combining mark left standing after normalization: NFKC joins an
//     accent to a letter wherever Unicode has the accented letter, so one
//     left over sits on a letter it does not belong to, often where it
//     cannot be seen (a dot above an i, a stroke through an l);
//   - letters of two scripts, such as a Cyrillic о among Latin letters
//     (TS #39 mixed-script detection: the scripts of the letters, with
//     Han's companions in Japanese and Korean, have none in common);
//   - a part that is not ASCII but whose TS #39 skeleton is: letters of
//     another script, or Latin ones beyond ASCII, shaped like ASCII ones
//     ("сосо" in Cyrillic, read as "coco").
//
// Registration alone applies them: an account stored before keeps
// logging in under its address.
func EmailLookAlikeProblem(email string) string {
	name, domain, _ := strings.Cut(email, "@")
	if strings.HasPrefix(name, `"`) {
		return `must not quote its name ("…"@): the quoted and the plain form are one mailbox`
	}
	for _, part := range append([]string{name}, strings.Split(domain, ".")...) {
		if problem := lookAlikePart(part); problem != "" {
			return problem
		}
	}
	return ""
}

func lookAlikePart(part string) string {
	if isASCII(part) {
		return ""
	}
	if hasStandingMark(part) {
		return "must not contain a combining mark that is not part of a letter"
	}
	if mixesScripts(part) {
		return "must not mix letters of different scripts (such as Latin and Cyrillic) in its name or in a domain label"
	}
	if isASCII(confusable.Skeleton(part)) {
		return "must not spell an ASCII address with look-alike letters of other alphabets"
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasStandingMark reports a combining mark of the Inherited script (the
// accents, overlays and dots any script may use) in s, which is NFKC: a
// script's own vowel signs, which its words need, are not Inherited.
func hasStandingMark(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Inherited, r) && unicode.In(r, unicode.Mn, unicode.Me) {
			return true
		}
	}
	return false
}

// augmentedScripts are TS #39's additions to a script's set: Han is
// written along with kana in Japanese, with Hangul in Korean and with
// Bopomofo, so none of those mixes count as mixed.
var augmentedScripts = map[string][]string{
	"Han":      {"Han", "Japanese", "Korean", "Han with Bopomofo"},
	"Hiragana": {"Hiragana", "Japanese"},
	"Katakana": {"Katakana", "Japanese"},
	"Hangul":   {"Hangul", "Korean"},
	"Bopomofo": {"Bopomofo", "Han with Bopomofo"},
}

// mixesScripts reports whether the letters of s have no script in common
// (TS #39's resolved script set is empty). Characters of the Common and
// Inherited scripts (digits, punctuation, marks) go with any.
func mixesScripts(s string) bool {
	var resolved []string // nil: every script so far
	for _, r := range s {
		script := scriptOf(r)
		if script == "" || script == "Common" || script == "Inherited" {
			continue
		}
		set, ok := augmentedScripts[script]
		if !ok {
			set = []string{script}
		}
		if resolved == nil {
			resolved = set
			continue
		}
		resolved = intersect(resolved, set)
		if len(resolved) == 0 {
			return true
		}
	}
	return false
}

// scriptOf is the name of r's script in Go's Unicode tables, "" for none.
func scriptOf(r rune) string {
	for _, name := range likelyScripts {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// likelyScripts are tried first: most addresses beyond ASCII use them.
var likelyScripts = []string{"Common", "Latin", "Inherited", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana", "Hangul", "Arabic"}

func intersect(a, b []string) []string {
	var both []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				both = append(both, x)
			}
		}
	}
	return both
}
