package authtest_test

import (
	"strings"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
	"taskflow/models"
)

// streamEndWait is how long a stream may stay open after its tokens are
// revoked: a second for the revocation to reach every replica, and a
// stream's own revocation check, once a second.
const streamEndWait = 3 * time.Second

// secretTitle and secretDescription are what a deleted account wrote:
// nothing the server sends afterwards may hold them.
const (
	secretTitle       = "Call the lawyer about the divorce"
	secretDescription = "before Friday, not from the office"
)

// deletingAccount is an account about to delete itself: its id, its
// token, and how a token issued after the deletion is had (nil when the
// account cannot come back).
type deletingAccount struct {
	userID string
	token  string
	again  func(t *testing.T) string
}

// deletingAccounts are the two kinds of account DELETE /auth/me deletes.
var deletingAccounts = []struct {
	name string
	make func(t *testing.T, api *authAPI) deletingAccount
}{
	{"local", func(t *testing.T, api *authAPI) deletingAccount {
		session := api.register(t, "erased-"+randomSuffix(t)+"@example.com", "correct horse battery")
		return deletingAccount{userID: session.User.ID, token: session.AccessToken}
	}},
	{"external", func(t *testing.T, _ *authAPI) deletingAccount {
		sub := "frontend-erased-" + randomSuffix(t)
		mint := func(t *testing.T) string { return apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims(sub)) }
		return deletingAccount{userID: models.ExternalUserID("", sub), token: mint(t), again: mint}
	}},
}

// TestDeletedAccountsAreErased reproduces an external user's DELETE
// /auth/me: it answered 204, yet the same frontend token kept reading and
// writing, its open event stream stayed open, and a stream resumed with
// Last-Event-ID: 0 replayed the deleted task's title and description; a
// local account's events, holding the same text, stayed for a day. Now,
// for both kinds of account, every token issued before the deletion is a
// 401 within a second on both replicas, the open stream ends, and the
// account's events, idempotency answers and event tickets are gone with
// it. The cutoff the stream reads says the account was deleted.
func TestDeletedAccountsAreErased(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		a := apptest.Start(t, db, highLimit)
		b := apptest.Start(t, db, highLimit)
		for _, kind := range deletingAccounts {
			t.Run(kind.name, func(t *testing.T) {
				api := newAuthAPI(t, a)
				account := kind.make(t, api)
				created := a.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/tasks", Token: account.token,
					Headers: map[string]string{"Idempotency-Key": "erase-" + randomSuffix(t)},
					Body:    map[string]any{"title": secretTitle, "description": secretDescription}})
				apptest.RequireStatus(t, created, 201)
				ticket := a.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/events/ticket", Token: account.token})
				apptest.RequireStatus(t, ticket, 201)
				open := eventstest.Open(t, b.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + account.token})
				if open.Status != 200 {
					t.Fatalf("open the stream: %d", open.Status)
				}

				apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: account.token}), 204)
				answered := time.Now()
				requireNothingKept(t, a, account.userID)
				requireDeletionCutoff(t, a, account.userID)
				// The replica that deleted refuses the token at once; the other
				// within the second, which is probed with reads only, so that a
				// write it still let through in that second does not muddle
				// what the deletion left.
				requireRevokedWithin(t, a, account.token, answered)
				awaitRefused(t, b, account.token, answered)
				requireRevokedWithin(t, b, account.token, answered)
				select {
				case <-open.Ended():
				case <-time.After(time.Until(answered.Add(streamEndWait))):
					t.Fatalf("the stream opened before the deletion is still open %s after it", streamEndWait)
				}
				for len(open.Events) > 0 {
					if e := <-open.Events; strings.Contains(e.Data, secretTitle) {
						t.Fatalf("the open stream sent the deleted task after the deletion: %s %s", e.Type, e.Data)
					}
				}
				replay := eventstest.Open(t, b.URL+"/api/v1/events", map[string]string{
					"Authorization": "Bearer " + account.token, "Last-Event-ID": "0"})
				if replay.Status != 401 {
					t.Fatalf("the deleted account's token resumed the stream: %d", replay.Status)
				}
				redeemed := eventstest.Open(t, b.URL+"/api/v1/events?ticket="+ticket.Map(t)["ticket"].(string), nil)
				if redeemed.Status != 401 {
					t.Fatalf("a ticket asked for before the deletion opened a stream: %d", redeemed.Status)
				}
				requireNothingKept(t, a, account.userID)
				requireDeletionCutoff(t, a, account.userID)

				if account.again == nil {
					return
				}
				// The frontend's next token is a new, empty account of the same user.
				fresh := account.again(t)
				list := b.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/tasks", Token: fresh})
				apptest.RequireStatus(t, list, 200)
				if total := list.Map(t)["total"]; total != float64(0) {
					t.Fatalf("the account after its deletion lists %v tasks, want 0", total)
				}
				resumed := eventstest.Open(t, b.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + fresh, "Last-Event-ID": "0"})
				if resumed.Status != 200 {
					t.Fatalf("a token issued after the deletion opens no stream: %d", resumed.Status)
				}
				if e := resumed.Next(t, 5*time.Second); e.Type != "reset" || strings.Contains(e.Data, secretTitle) {
					t.Fatalf("a stream from event 0 after the deletion began with %s %s, want reset", e.Type, e.Data)
				}
				resumed.None(t, 1500*time.Millisecond) // it stays open, and replays nothing
				select {
				case <-resumed.Ended():
					t.Fatal("the stream of a token issued after the deletion was ended")
				default:
				}
			})
		}
	})
}

// awaitRefused waits until s refuses token on a read, failing the test if
// that takes longer than revocationDeadline from since.
func awaitRefused(t *testing.T, s *apptest.Server, token string, since time.Time) {
	t.Helper()
	for s.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/tasks", Token: token}).Status != 401 {
		if time.Since(since) > revocationDeadline {
			t.Fatalf("the token still works %s after the deletion", time.Since(since).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireNothingKept asserts no table keeps a row of userID but the
// cutoff and the event counter (a number, which keeps event ids from going
// back).
func requireNothingKept(t *testing.T, s *apptest.Server, userID string) {
	t.Helper()
	for _, table := range []string{"tasks", "tags", "refresh_tokens", "events", "idempotency_keys", "event_tickets"} {
		if n := count(t, s, "SELECT COUNT(*) FROM "+table+" WHERE user_id = ?", userID); n != 0 {
			t.Errorf("%s keeps %d rows of the deleted account", table, n)
		}
	}
	if n := count(t, s, "SELECT COUNT(*) FROM users WHERE id = ?", userID); n != 0 {
		t.Errorf("users keeps the deleted account")
	}
}

// requireDeletionCutoff asserts userID's token cutoff records a deletion,
// which is what an open stream reads to say why it ends.
func requireDeletionCutoff(t *testing.T, s *apptest.Server, userID string) {
	t.Helper()
	if n := count(t, s, "SELECT COUNT(*) FROM token_cutoffs WHERE user_id = ? AND account_deleted", userID); n != 1 {
		t.Errorf("the deleted account's cutoff does not say it was deleted")
	}
}
