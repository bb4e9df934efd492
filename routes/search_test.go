package routes_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"taskflow/app/apptest"
)

// TestTaskSearch holds q to the contract through the API, on both
// databases: every word must begin a word of the title or the
// description, in any order, ignoring case and accents; %, _ and \ are
// themselves; without sort, tasks whose title holds every word come first.
func TestTaskSearch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		// Created in this order: newest first lists them bottom up.
		for _, task := range [][2]string{
			{"Äpfel kaufen", "beim Bauern"},
			{"Write the quarterly report", "numbers for Q3"},
			{"Call the bank", "about the quarterly report"},
			{"Crème brûlée", "for the Straße party"},
			{"Sale 50% off", "under_score and a\\b path C:\\Temp"},
			{"Sale 500 off", "underXscore and a/b"},
			{"Report", "draft it"},
			{"Plan the trip", "(e-mail) Bob about it"},
			{"Budget", "write down the rent"},
		} {
			mustCreateTask(t, s, u, map[string]any{"title": task[0], "description": task[1]})
		}
		mustCreateTask(t, s, other, map[string]any{"title": "Write the quarterly report", "description": "someone else's"})

		cases := []struct {
			name, q, sort string
			want          []string
		}{
			{"accent in the text", "apfel", "", []string{"Äpfel kaufen"}},
			{"accent in the word", "CRÉME", "", []string{"Crème brûlée"}},
			{"accents on both sides", "brulee", "", []string{"Crème brûlée"}},
			{"sharp s folds to ss", "strasse", "", []string{"Crème brûlée"}},
			{"case", "WRITE", "", []string{"Write the quarterly report", "Budget"}},
			{"partial words", "writ rep", "", []string{"Write the quarterly report"}},
			{"word order does not matter", "report quarterly", "", []string{"Write the quarterly report", "Call the bank"}},
			{"two words, one in the title, one in the description", "bank report", "", []string{"Call the bank"}},
			{"every word must match", "bank zebra", "", []string{}},
			{"a word begins after punctuation", "mail", "", []string{"Plan the trip"}},
			{"punctuation begins a word too", "-mail", "", []string{"Plan the trip"}},
			{"words inside a word do not match", "port", "", []string{}},
			{"percent is literal", "50%", "", []string{"Sale 50% off"}},
			{"lone percent is literal", "%", "", []string{"Sale 50% off"}},
			{"underscore is literal", "under_s", "", []string{"Sale 50% off"}},
			{"lone underscore is literal", "_", "", []string{"Sale 50% off"}},
			{"backslash is literal", `a\b`, "", []string{"Sale 50% off"}},
			{"a path", `c:\temp`, "", []string{"Sale 50% off"}},
			{"quotes and operators are text", `' & | ! ( ) :* <->`, "", []string{}},
			{"white space around words", "  \t quarterly \n ", "", []string{"Write the quarterly report", "Call the bank"}},
			{"title matches first, then newest",
				"report", "", []string{"Report", "Write the quarterly report", "Call the bank"}},
			{"a sort asked for wins over the title",
				"report", "created_at", []string{"Write the quarterly report", "Call the bank", "Report"}},
			{"only white space searches nothing", "   ", "", []string{"Budget", "Plan the trip", "Report", "Sale 500 off",
				"Sale 50% off", "Crème brûlée", "Call the bank", "Write the quarterly report", "Äpfel kaufen"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				query := url.Values{"q": {tc.q}}
				if tc.sort != "" {
					query.Set("sort", tc.sort)
				}
				page := listTasks(t, s, u, query)
				if got := titles(page.Items); !slices.Equal(got, tc.want) {
					t.Errorf("q=%q: titles = %q\nwant %q", tc.q, got, tc.want)
				}
				if page.Total != len(tc.want) {
					t.Errorf("q=%q: total = %d, want %d", tc.q, page.Total, len(tc.want))
				}
			})
		}

		t.Run("the index follows writes", func(t *testing.T) {
			task := mustCreateTask(t, s, u, map[string]any{"title": "Renovate", "description": "kitchen"})
			requireSearch(t, s, u, "kitchen", "Renovate")
			r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID, map[string]any{"description": "bathroom"}, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			requireSearch(t, s, u, "kitchen")
			requireSearch(t, s, u, "bathroom", "Renovate")
			r = call(t, s, u, http.MethodPut, "/api/v1/tasks/"+task.ID, map[string]any{"title": "Repaint"}, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			requireSearch(t, s, u, "renovate")
			requireSearch(t, s, u, "bathroom")
			requireSearch(t, s, u, "repaint", "Repaint")
			r = call(t, s, u, http.MethodDelete, "/api/v1/tasks/"+task.ID, nil, nil)
			apptest.RequireStatus(t, r, http.StatusNoContent)
			requireSearch(t, s, u, "repaint")
		})

		t.Run("another user's words find nothing", func(t *testing.T) {
			requireSearch(t, s, other, "bank")
			requireSearch(t, s, other, "else", "Write the quarterly report")
		})

		t.Run("limits", func(t *testing.T) {
			for _, q := range []string{strings.Repeat("a ", 11), strings.Repeat("x", 201)} {
				r := call(t, s, u, http.MethodGet, "/api/v1/tasks?"+url.Values{"q": {q}}.Encode(), nil, nil)
				requireFieldError(t, r, "q")
			}
			for _, q := range []string{strings.TrimSpace(strings.Repeat("a ", 10)), strings.Repeat("a", 100) + "b", strings.Repeat("é", 200)} {
				r := call(t, s, u, http.MethodGet, "/api/v1/tasks?"+url.Values{"q": {q}}.Encode(), nil, nil)
				apptest.RequireStatus(t, r, http.StatusOK)
			}
		})
	})
}

// requireSearch fails unless searching q lists exactly the titles want.
func requireSearch(t *testing.T, s *apptest.Server, u user, q string, want ...string) {
	t.Helper()
	page := listTasks(t, s, u, url.Values{"q": {q}})
	if got := titles(page.Items); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("q=%q: titles = %q, want %q", q, got, want)
	}
}
