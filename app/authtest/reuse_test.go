package authtest_test

import (
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/client"
)

// TestRefreshReuseInterval: two tabs refresh one session at the same
// instant and both stay signed in; a copy presented after the interval
// still revokes the whole session.
func TestRefreshReuseInterval(t *testing.T) {
	const interval = time.Second
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{
			"AUTH_RATE_LIMIT": "1000", "LOGIN_FAIL_LIMIT": "1000", "REFRESH_REUSE_INTERVAL": interval.String(),
		})
		api := newAuthAPI(t, s)
		pair := api.register(t, "two-tabs@example.com", "a password for two tabs")

		tabs := make([]apptest.Response, 2)
		var wg sync.WaitGroup
		for i := range tabs {
			wg.Go(func() {
				tabs[i] = s.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/refresh",
					Body: map[string]any{"refresh_token": pair.RefreshToken}})
			})
		}
		wg.Wait()
		spentAt := time.Now()
		sessions := make([]client.Session, len(tabs))
		for i, r := range tabs {
			apptest.RequireStatus(t, r, 200)
			r.JSON(t, &sessions[i])
		}
		if sessions[0].RefreshToken == sessions[1].RefreshToken {
			t.Fatal("both tabs got the same refresh token, want one each")
		}
		// Each tab's pair works: its access token, and its refresh token once.
		next := make([]client.Session, len(sessions))
		for i, session := range sessions {
			apptest.RequireStatus(t, api.me(t, session.AccessToken), 200)
			r := api.refresh(t, session.RefreshToken)
			apptest.RequireStatus(t, r, 200)
			r.JSON(t, &next[i])
			apptest.RequireStatus(t, api.me(t, next[i].AccessToken), 200)
		}

		// After the interval the first token is a stolen copy: refused, and
		// every token of the session with it.
		time.Sleep(time.Until(spentAt.Add(interval + 200*time.Millisecond)))
		apptest.RequireProblem(t, api.refresh(t, pair.RefreshToken), 401)
		for i, session := range next {
			if r := api.refresh(t, session.RefreshToken); r.Status != 401 {
				t.Fatalf("tab %d's newest refresh token after the reuse: %d %s, want 401 (the session is revoked)", i, r.Status, r.Body)
			}
		}
	})
}
