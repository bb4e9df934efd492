package search_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/database/search"
)

func TestLexemes(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"Write the REPORT", []string{"write", "the", "report"}},
		{"Äpfel Crème brûlée Straße Øre", []string{"apfel", "creme", "brulee", "strasse", "ore"}},
		{"e-mail: (draft)", []string{"e-mail:", "-mail:", "mail:", ":", "(draft)", "draft)", ")"}},
		{`C:\Temp 50%`, []string{`c:\temp`, `:\temp`, `\temp`, "temp", "50%", "%"}},
		{"a_b a_b", []string{"a_b", "_b", "b"}},
		{"tab\tand\x01control  spaces\n", []string{"tab", "and", "control", "spaces"}},
		{"", nil},
		{"   ", nil},
	}
	for _, tc := range cases {
		if got := search.Lexemes(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Lexemes(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// A token yields at most 32 lexemes, each of at most 200 characters,
// however long it is: a text's lexemes are bounded by its length.
func TestLexemesAreBounded(t *testing.T) {
	long := strings.Repeat("é", 300)
	if got := search.Lexemes(long); len(got) != 1 || got[0] != strings.Repeat("e", 200) {
		t.Errorf("a 300-letter word: %d lexemes, first of %d characters; want one of 200", len(got), len([]rune(got[0])))
	}
	dashes := strings.Repeat("a-", 2500)
	got := search.Lexemes(dashes)
	if len(got) != 2 { // "a-a-…" and "-a-…", each cut to 200, repeat
		t.Errorf("a-a-a…: %d lexemes, want 2", len(got))
	}
	distinct := search.Lexemes(strings.Repeat("ab-cd.", 100))
	if len(distinct) > 32 {
		t.Errorf("one token gave %d lexemes, want at most 32", len(distinct))
	}
	for _, l := range distinct {
		if n := len([]rune(l)); n > 200 {
			t.Errorf("a lexeme of %d characters", n)
		}
	}
}

func TestQueryWords(t *testing.T) {
	got := search.QueryWords("  Writ\tRÉP  " + strings.Repeat("x", 250))
	want := []string{"writ", "rep", strings.Repeat("x", 200)}
	if !slices.Equal(got, want) {
		t.Errorf("QueryWords = %q, want %q", got, want)
	}
}

// TestPostgresLexemesAreGoLexemes holds the two implementations of the
// rules to one another (SQLite uses Go's, PostgreSQL its SQL functions),
// on texts whose accents both fold alike.
func TestPostgresLexemesAreGoLexemes(t *testing.T) {
	db := apptest.Postgres(t)
	ctx := context.Background()
	gdb, err := database.Open(ctx, database.Options{URL: db.URL, MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(gdb) })
	if err := database.Migrate(ctx, gdb, database.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Write the quarterly report (draft), e-mail: bob@example.com C:\\Temp 50% a_b",
		"Äpfel Crème brûlée Straße Øre ÉCOLE naïve",
		strings.Repeat("a", 300) + " " + strings.Repeat("b-", 40) + " " + strings.Repeat("%", 70),
		"tab\tand\x01control  spaces\n", "o'brien ==> <- [x] {y} \"quoted\" it's", "", "   ", "  leading and trailing  ",
		"no\u00a0break\u202fspaces\u2007here\u3000ideographic", "x-" + strings.Repeat("é", 300) + " " + strings.Repeat("ab-cd", 50),
		strings.Repeat("word ", 50) + strings.Repeat("ab-cd.", 100),
	}
	for _, text := range texts {
		var lexemes []string
		err := gdb.Raw("SELECT unnest(tsvector_to_array(taskflow_search_lexemes('', ?)))", text).Scan(&lexemes).Error
		if err != nil {
			t.Fatal(err)
		}
		want := search.Lexemes(text)
		slices.Sort(lexemes)
		slices.Sort(want)
		if !slices.Equal(lexemes, want) {
			t.Errorf("%.40q:\nPostgreSQL %q\nGo         %q", text, lexemes, want)
		}
	}
}
