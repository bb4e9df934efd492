package authtest_test

import (
	"testing"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// TestConfusableEmailsAreRefused reproduces accounts registered beside
// lookalike@example.com under addresses a person reads as the same: a
// Cyrillic о in the name, a Cyrillic а in the domain, a dot above an i
// (a combining accent that no letter absorbs), the quoted form of the
// same mailbox, and a name all in Cyrillic letters shaped like Latin
// ones. Each is now a 422 naming email, and no account is created.
// Addresses in one script other than Latin, and accented letters, still
// register; an account stored before under a form now refused still logs
// in.
func TestConfusableEmailsAreRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		const password = "a look-alike password"
		register := func(email string) apptest.Response {
			return api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
				Body: map[string]any{"email": email, "password": api.usePassword(password)}})
		}
		apptest.RequireStatus(t, register("lookalike@example.com"), 201)
		refused := map[string]string{
			"Cyrillic о in the name":   "l\u043eokalike@example.com",
			"Cyrillic а in the domain": "lookalike@ex\u0430mple.com",
			"a dot above an i":         "lookali\u0307ke@example.com",
			"a quoted name":            `"lookalike"@example.com`,
			"a name all in Cyrillic":   "\u0441\u043e\u0441\u043e@example.com", // "сосо", read as "coco"
		}
		for name, email := range refused {
			r := register(email)
			if r.Status != 422 {
				t.Errorf("%s (%q): status %d, want 422: %s", name, email, r.Status, r.Body)
				continue
			}
			requireFieldErrors(t, r, "email")
		}
		if n := count(t, s, "SELECT COUNT(*) FROM users"); n != 1 {
			t.Errorf("%d accounts, want 1: a refused address was registered", n)
		}

		for _, email := range []string{"j\u00fcrgen@example.de", "\u0438\u0432\u0430\u043d@example.com", "\u5c71\u7530\u305f\u308d\u3046@example.jp"} {
			if r := register(email); r.Status != 201 {
				t.Errorf("%q: status %d, want 201: %s", email, r.Status, r.Body)
			}
		}

		stored := "l\u043eokalike-old@example.com" // registered before this rule
		if _, err := database.NewUsers(s.DB).Create(t.Context(), models.Registration{Email: models.NormalizeEmail(stored), Password: password}); err != nil {
			t.Fatalf("store an account: %v", err)
		}
		apptest.RequireStatus(t, api.login(t, stored, password), 200)
	})
}
