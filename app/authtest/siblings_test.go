package authtest_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/client"
)

// replayEnv trusts the test's proxy header, so each replay can come from
// an address of its own, and keeps the reuse interval at its default.
var replayEnv = map[string]string{
	"AUTH_RATE_LIMIT": "1000", "LOGIN_FAIL_LIMIT": "1000", "TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP",
}

// replays is how many times the attack presents one refresh token.
const replays = 40

// presentFrom presents token to POST /auth/refresh from the i-th address.
func presentFrom(baseURL, token string, i int) answer {
	return rawPostFrom(baseURL, "/api/v1/auth/refresh", fmt.Sprintf("198.51.100.%d", i+1), map[string]any{"refresh_token": token})
}

// pairsOf returns the refresh tokens of the 200s among answers.
func pairsOf(t *testing.T, answers []answer) []string {
	t.Helper()
	var tokens []string
	for _, a := range answers {
		switch a.status {
		case 200:
			var s client.Session
			if err := json.Unmarshal(a.body, &s); err != nil {
				t.Fatalf("a 200 that is not a token pair: %s", a.body)
			}
			tokens = append(tokens, s.RefreshToken)
		case 401:
		default:
			t.Fatalf("a replay answered %d: %s", a.status, a.body)
		}
	}
	return tokens
}

// requireFamilyRevoked asserts no refresh token in tokens rotates any more.
func requireFamilyRevoked(t *testing.T, api *authAPI, tokens []string) {
	t.Helper()
	rotating := 0
	for _, token := range tokens {
		if api.refresh(t, token).Status != 401 {
			rotating++
		}
	}
	if rotating > 0 {
		t.Errorf("%d of %d refresh tokens of the family still rotate after the replays: the family should be revoked", rotating, len(tokens))
	}
}

// TestReplayedRefreshTokenGetsOneSibling reproduces one spent refresh
// token replayed 40 times within 0.3 s from 40 addresses, inside the
// reuse interval: each replay got a sibling, 40 working sessions, and the
// owner's session went on as if nothing had happened. Now a spent token
// yields at most one sibling (the second tab); the next presentation is
// theft and revokes the family, the owner's token and the sibling
// included.
func TestReplayedRefreshTokenGetsOneSibling(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, replayEnv)
		api := newAuthAPI(t, s)
		session := api.register(t, "replayed-"+randomSuffix(t)+"@example.com", "correct horse battery")
		r := api.refresh(t, session.RefreshToken)
		apptest.RequireStatus(t, r, 200)
		owner := r.Map(t)["refresh_token"].(string)

		answers := make([]answer, replays)
		start := time.Now()
		for i := range answers {
			time.Sleep(time.Until(start.Add(time.Duration(i) * 300 * time.Millisecond / replays)))
			answers[i] = presentFrom(s.URL, session.RefreshToken, i)
		}
		siblings := pairsOf(t, answers)
		t.Logf("%d replays of a spent token within %s: %d got a working pair", replays, time.Since(start).Round(time.Millisecond), len(siblings))
		if len(siblings) > 1 {
			t.Errorf("%d replays of one spent token got %d pairs, want at most 1 (a second tab)", replays, len(siblings))
		}
		requireFamilyRevoked(t, api, append(siblings, owner))
	})
}

// TestConcurrentPresentationsGetOneSibling presents one live refresh token
// 40 times at once: one rotation wins, at most one sibling is made beside
// it, and the presentations past those revoke the family, so that no
// token it gave out still rotates.
func TestConcurrentPresentationsGetOneSibling(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, replayEnv)
		api := newAuthAPI(t, s)
		session := api.register(t, "concurrent-"+randomSuffix(t)+"@example.com", "correct horse battery")

		answers := make([]answer, replays)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = presentFrom(s.URL, session.RefreshToken, i) })
		}
		wg.Wait()
		pairs := pairsOf(t, answers)
		t.Logf("%d concurrent presentations of one token: %d got a working pair", replays, len(pairs))
		if len(pairs) == 0 || len(pairs) > 2 {
			t.Errorf("%d concurrent presentations of one token got %d pairs, want the rotation and at most one sibling", replays, len(pairs))
		}
		requireFamilyRevoked(t, api, pairs)
	})
}

// TestTwoTabsThenAThird: the second presentation of a spent token within
// the interval is the other tab's, and both tabs go on; a third is theft.
func TestTwoTabsThenAThird(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, replayEnv)
		api := newAuthAPI(t, s)
		session := api.register(t, "tabs-"+randomSuffix(t)+"@example.com", "correct horse battery")
		var tabs [2]client.Session
		for i := range tabs {
			r := api.refresh(t, session.RefreshToken)
			apptest.RequireStatus(t, r, 200)
			r.JSON(t, &tabs[i])
		}
		for i, tab := range tabs {
			r := api.refresh(t, tab.RefreshToken)
			apptest.RequireStatus(t, r, 200)
			r.JSON(t, &tabs[i])
		}
		apptest.RequireProblem(t, api.refresh(t, session.RefreshToken), 401)
		requireFamilyRevoked(t, api, []string{tabs[0].RefreshToken, tabs[1].RefreshToken})
	})
}
