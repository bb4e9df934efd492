package routes_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"taskflow/app/apptest"
	"taskflow/client"
)

// atOnce runs every request at the same instant, each on its own
// goroutine, and returns the answers in order.
func atOnce(t testing.TB, s *apptest.Server, u user, reqs ...apptest.Request) []apptest.Response {
	t.Helper()
	answers := make([]apptest.Response, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, req := range reqs {
		req.Token = u.token
		wg.Go(func() {
			<-start
			answers[i] = s.Do(t, req)
		})
	}
	close(start)
	wg.Wait()
	return answers
}

func moveRequest(id string, body map[string]any) apptest.Request {
	return apptest.Request{Method: http.MethodPost, Path: taskPath(id) + "/move", Body: body}
}

// requireMovedOrRefused checks a racing write's answer: a 200 task, or a
// 422 naming field; anything else (a 500, a 409, a 503) fails the test.
// It reports whether the write was applied.
func requireMovedOrRefused(t testing.TB, r apptest.Response, field string) bool {
	t.Helper()
	switch r.Status {
	case http.StatusOK:
		requireTaskShape(t, r)
		return true
	case http.StatusUnprocessableEntity:
		requireExactFields(t, r, http.StatusUnprocessableEntity, field)
		return false
	}
	t.Fatalf("status %d, want 200 or a 422 naming %s; body: %s", r.Status, field, r.Body)
	return false
}

// TestConcurrentMovesIntoOneGap: 20 tasks moved at once right after the
// same sibling all land there, each with a position of its own.
func TestConcurrentMovesIntoOneGap(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p := mustCreateProject(t, s, u, "p")
		a := mustCreateTask(t, s, u, map[string]any{"title": "a", "project_id": p.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "b", "project_id": p.ID})
		reqs := make([]apptest.Request, 20)
		for i := range reqs {
			x := mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprint("x", i)})
			reqs[i] = moveRequest(x.ID, map[string]any{"project_id": p.ID, "after_id": a.ID})
		}
		answered := map[string]client.Task{}
		for i, r := range atOnce(t, s, u, reqs...) {
			if r.Status != http.StatusOK {
				t.Fatalf("move %d: %d %s, want 200", i, r.Status, r.Body)
			}
			task := requireTaskShape(t, r)
			if placeOf(task) != (place{p.ID, ""}) {
				t.Errorf("%s moved to %+v", task.Title, placeOf(task))
			}
			for _, other := range answered {
				if other.Position == task.Position {
					t.Errorf("%s and %s were both given position %q", other.Title, task.Title, task.Position)
				}
			}
			answered[task.ID] = task
		}
		listed := siblings(t, s, u, place{p.ID, ""}) // positions strictly increasing: none shared
		if got := titles(listed); len(got) != 22 || got[0] != "a" || got[21] != "b" {
			t.Fatalf("siblings %v, want a, the 20 moved tasks, b", got)
		}
		for _, task := range listed {
			if was, ok := answered[task.ID]; ok && task.Version == was.Version && task.Position != was.Position {
				t.Errorf("%s answered position %q but lists %q at the same version", task.Title, was.Position, task.Position)
			}
		}
	})
}

// TestConcurrentCycle: A under B and B under A, sent at once, never both
// succeed, by move or by PATCH; whatever succeeded is what is stored.
func TestConcurrentCycle(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p := mustCreateProject(t, s, u, "p")
		for round := range 24 {
			a := mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprint("a", round), "project_id": p.ID})
			b := mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprint("b", round), "project_id": p.ID})
			aUnderB, bUnderA := moveRequest(a.ID, map[string]any{"parent_id": b.ID}), moveRequest(b.ID, map[string]any{"parent_id": a.ID})
			if round%2 == 1 {
				aUnderB = apptest.Request{Method: http.MethodPatch, Path: taskPath(a.ID), Body: map[string]any{"parent_id": b.ID}}
			}
			answers := atOnce(t, s, u, aUnderB, bUnderA)
			aMoved, bMoved := requireMovedOrRefused(t, answers[0], "parent_id"), requireMovedOrRefused(t, answers[1], "parent_id")
			if aMoved && bMoved {
				t.Fatalf("round %d: both moves succeeded: a cycle", round)
			}
			nowA, _ := mustGetTask(t, s, u, a.ID)
			nowB, _ := mustGetTask(t, s, u, b.ID)
			wantA, wantB := place{p.ID, ""}, place{p.ID, ""}
			if aMoved {
				wantA.parent = b.ID
			}
			if bMoved {
				wantB.parent = a.ID
			}
			if placeOf(nowA) != wantA || placeOf(nowB) != wantB {
				t.Fatalf("round %d: a at %+v, b at %+v; the answers said %+v and %+v", round, placeOf(nowA), placeOf(nowB), wantA, wantB)
			}
		}
	})
}

// TestMoveRacingDeletionOfItsAfterID: a move right after a sibling that
// is being deleted is either refused (422 naming after_id) and changes
// nothing, or lands between the deleted sibling's neighbours; never a
// 500, never a lost task.
func TestMoveRacingDeletionOfItsAfterID(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		for round := range 20 {
			p := mustCreateProject(t, s, u, fmt.Sprint("p", round))
			mustCreateTask(t, s, u, map[string]any{"title": "a", "project_id": p.ID})
			b := mustCreateTask(t, s, u, map[string]any{"title": "b", "project_id": p.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "b's sub", "parent_id": b.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "c", "project_id": p.ID})
			x := mustCreateTask(t, s, u, map[string]any{"title": "x"})
			answers := atOnce(t, s, u,
				moveRequest(x.ID, map[string]any{"project_id": p.ID, "after_id": b.ID}),
				apptest.Request{Method: http.MethodDelete, Path: taskPath(b.ID)})
			apptest.RequireStatus(t, answers[1], http.StatusNoContent)
			moved := requireMovedOrRefused(t, answers[0], "after_id")
			now, _ := mustGetTask(t, s, u, x.ID) // never lost
			want, order := place{}, []string{"a", "c"}
			if moved {
				want, order = place{p.ID, ""}, []string{"a", "x", "c"}
			} else if now.Version != x.Version {
				t.Errorf("round %d: a refused move changed x: v%d → v%d", round, x.Version, now.Version)
			}
			if placeOf(now) != want {
				t.Fatalf("round %d: x at %+v, want %+v (moved: %v)", round, placeOf(now), want, moved)
			}
			if got := siblingTitles(t, s, u, place{p.ID, ""}); !slices.Equal(got, order) {
				t.Fatalf("round %d: p's tasks %v, want %v (moved: %v)", round, got, order, moved)
			}
		}
	})
}
