package authtest_test

import (
	"testing"

	"taskflow/app/apptest"
)

// TestAccountChanges: renaming and changing the password of a local
// account, the answers to bad input, and the 403 an external user gets.
func TestAccountChanges(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		password := api.usePassword("correct horse battery")
		session := api.register(t, "changes-"+randomSuffix(t)+"@example.com", password)
		rename := func(token string, body any) apptest.Response {
			return api.do(t, apptest.Request{Method: "PATCH", Path: "/api/v1/auth/me", Token: token, Body: body})
		}
		changePassword := func(token string, body any) apptest.Response {
			return api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/password", Token: token, Body: body})
		}

		r := rename(session.AccessToken, map[string]any{"name": "  Ada King  "})
		apptest.RequireStatus(t, r, 200)
		user := r.Map(t)
		requireKeys(t, user, "id", "email", "name", "created_at")
		if user["name"] != "Ada King" || user["id"] != session.User.ID {
			t.Fatalf("renamed user = %v, want Ada King", user)
		}
		if me := api.me(t, session.AccessToken).Map(t); me["name"] != "Ada King" {
			t.Fatalf("me = %v, want the new name", me)
		}
		r = rename(session.AccessToken, map[string]any{"name": nil})
		apptest.RequireStatus(t, r, 200)
		if name, present := r.Map(t)["name"]; !present || name != nil {
			t.Fatalf("name after clearing = %v, want null", name)
		}
		requireFieldErrors(t, rename(session.AccessToken, map[string]any{}), "name")
		requireFieldErrors(t, rename(session.AccessToken, map[string]any{"name": 5}), "name")
		requireFieldErrors(t, rename(session.AccessToken, map[string]any{"name": string(make([]byte, 101))}), "name")

		requireFieldErrors(t, changePassword(session.AccessToken, map[string]any{"new_password": "short"}), "current_password", "new_password")
		r = changePassword(session.AccessToken, map[string]any{"current_password": api.usePassword("not the password"), "new_password": api.usePassword("a long new password")})
		apptest.RequireProblem(t, r, 401)
		apptest.RequireStatus(t, api.me(t, session.AccessToken), 200) // a wrong password revokes nothing

		external := apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims("frontend-"+randomSuffix(t)))
		apptest.RequireProblem(t, rename(external, map[string]any{"name": "x"}), 403)
		apptest.RequireProblem(t, changePassword(external, map[string]any{"current_password": "whatever1", "new_password": "whatever2"}), 403)
	})
}

// requireFieldErrors asserts r is a 422 naming exactly fields, in order.
func requireFieldErrors(t testing.TB, r apptest.Response, fields ...string) {
	t.Helper()
	problem := apptest.RequireProblem(t, r, 422)
	errs, _ := problem["errors"].([]any)
	var got []string
	for _, e := range errs {
		field, _ := e.(map[string]any)["field"].(string)
		got = append(got, field)
	}
	if len(got) != len(fields) {
		t.Fatalf("errors name %v, want %v", got, fields)
	}
	for i := range fields {
		if got[i] != fields[i] {
			t.Fatalf("errors name %v, want %v", got, fields)
		}
	}
}
