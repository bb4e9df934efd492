package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"taskflow/client"
)

// user is a synthetic user of the isolation check: a random subject and a
// token minted for it, with no account behind it.
type user struct {
	label   string // "user A"
	subject string
	api     *client.Client
	// fix says which setting to look at when the token is refused.
	fix string
}

// syntheticUsers mints tokens for two new users. With both secrets, A gets
// a frontend token and B one of the API's own, so one run exercises both;
// A is the external one because DELETE /api/v1/auth/me deletes an external
// user's data, while a local subject without an account is refused there.
// With one secret both users use it.
func (t *target) syntheticUsers() (a, b *user, err error) {
	own, external := t.cfg.JWTSecret, t.cfg.BetterAuthSecret
	mintA, mintB := t.ownUser, t.ownUser
	switch {
	case own.Value != "" && external.Value != "":
		mintA = t.externalUser
	case own.Value == "" && external.Value != "":
		mintA, mintB = t.externalUser, t.externalUser
	case own.Value == "":
		return nil, nil, errors.New("no secret to mint test users' tokens with: give --jwt-secret (the deployment's JWT_SECRET_KEY) " +
			"or --better-auth-secret (its BETTER_AUTH_SECRET), or set TASKFLOW_VERIFY_JWT_SECRET or BETTER_AUTH_SECRET")
	}
	if a, err = mintA("user A"); err != nil {
		return nil, nil, err
	}
	if b, err = mintB("user B"); err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

func (t *target) ownUser(label string) (*user, error) {
	subject := syntheticSubject()
	token, err := ownToken(t.cfg.JWTSecret.Value, t.cfg.Issuer, subject)
	if err != nil {
		return nil, fmt.Errorf("mint a token for %s: %w", label, err)
	}
	fix := fmt.Sprintf("the secret from %s must be the deployment's JWT_SECRET_KEY and %q its JWT_ISSUER", t.cfg.JWTSecret.Source, t.cfg.Issuer)
	return &user{label: label, subject: subject, api: t.api.WithToken(token), fix: fix}, nil
}

func (t *target) externalUser(label string) (*user, error) {
	subject := syntheticSubject()
	token, err := externalToken(t.cfg.BetterAuthSecret.Value, subject)
	if err != nil {
		return nil, fmt.Errorf("mint a token for %s: %w", label, err)
	}
	fix := fmt.Sprintf("the secret from %s must be the deployment's BETTER_AUTH_SECRET", t.cfg.BetterAuthSecret.Source)
	return &user{label: label, subject: subject, api: t.api.WithToken(token), fix: fix}, nil
}

// failed describes a call of u's that went wrong, pointing at the secret
// when the token itself was refused.
func (u *user) failed(action string, err error) error {
	if client.StatusOf(err) == http.StatusUnauthorized {
		return fmt.Errorf("%s's token was refused (%w): %s", u.label, err, u.fix)
	}
	return fmt.Errorf("%s could not %s: %w", u.label, action, err)
}

// isolation is one run of the isolation check and what it created.
type isolation struct {
	t       *target
	a, b    *user
	marker  string // in every title and name, unique to this run
	created []created
}

// created is something to delete when the check ends.
type created struct {
	owner *user
	what  string // "task 0190…"
	del   func(ctx context.Context) error
}

// checkIsolation: user B can neither see nor touch what user A creates, and
// A's data is unchanged by B's attempts. Everything created is deleted
// again, even when a step fails.
func checkIsolation(ctx context.Context, t *target) (err error) {
	a, b, err := t.syntheticUsers()
	if err != nil {
		return err
	}
	iso := &isolation{t: t, a: a, b: b, marker: uuid.NewString()}
	defer func() {
		if cleanupErr := iso.cleanup(ctx); cleanupErr != nil {
			if err == nil {
				err = cleanupErr
			} else {
				err = fmt.Errorf("%w; %w", err, cleanupErr)
			}
		}
	}()
	return iso.run(ctx)
}

func (iso *isolation) run(ctx context.Context) error {
	task, tag, err := iso.createAsA(ctx)
	if err != nil {
		return err
	}
	if err := iso.bCannotTouch(ctx, task, tag); err != nil {
		return err
	}
	if err := iso.bCannotSee(ctx, task, tag); err != nil {
		return err
	}
	if err := iso.bCannotAttach(ctx, tag); err != nil {
		return err
	}
	return iso.aSeesItUnchanged(ctx, task, tag)
}

// createAsA creates a tag and a task that carries it, as user A.
func (iso *isolation) createAsA(ctx context.Context) (client.Task, client.Tag, error) {
	a := iso.a
	color := "#0f766e"
	tag, err := a.api.CreateTag(ctx, client.TagInput{Name: "verify-" + iso.marker, Color: &color})
	if err != nil {
		return client.Task{}, client.Tag{}, a.failed("create a tag", err)
	}
	iso.track(a, "tag "+tag.ID, func(ctx context.Context) error { return a.api.DeleteTag(ctx, tag.ID) })
	task, err := a.api.CreateTask(ctx, client.TaskInput{
		Title:       "taskflow verify " + iso.marker,
		Description: "Created by taskflow verify to check that users are isolated; deleted when the check ends.",
		Priority:    client.PriorityHigh,
		TagIDs:      []string{tag.ID},
	})
	if err != nil {
		return client.Task{}, client.Tag{}, a.failed("create a task", err)
	}
	iso.track(a, "task "+task.ID, func(ctx context.Context) error { return a.api.DeleteTask(ctx, task.ID) })
	return task, tag, nil
}

func (iso *isolation) track(owner *user, what string, del func(ctx context.Context) error) {
	iso.created = append(iso.created, created{owner: owner, what: what, del: del})
}

// bCannotTouch: every call of B's on A's task and tag is a 404 problem.
func (iso *isolation) bCannotTouch(ctx context.Context, task client.Task, tag client.Tag) error {
	b := iso.b
	changed := "changed by taskflow verify"
	done := true
	attempts := []struct {
		what string
		call func() error
	}{
		{"GET user A's task", func() error { _, err := b.api.GetTask(ctx, task.ID); return err }},
		{"PUT user A's task", func() error {
			_, err := b.api.ReplaceTask(ctx, task.ID, client.TaskInput{Title: changed})
			return err
		}},
		{"PATCH user A's task", func() error {
			_, err := b.api.UpdateTask(ctx, task.ID, client.TaskPatch{Title: &changed, Completed: &done})
			return err
		}},
		{"DELETE user A's task", func() error { return b.api.DeleteTask(ctx, task.ID) }},
		{"GET user A's tag", func() error { _, err := b.api.GetTag(ctx, tag.ID); return err }},
		{"PATCH user A's tag", func() error { _, err := b.api.UpdateTag(ctx, tag.ID, client.TagPatch{Name: &changed}); return err }},
		{"DELETE user A's tag", func() error { return b.api.DeleteTag(ctx, tag.ID) }},
	}
	for _, attempt := range attempts {
		if err := b.expectStatus(attempt.what, attempt.call(), http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// expectStatus checks that err is a problem document with status want.
func (u *user) expectStatus(what string, err error, want int) error {
	var apiErr *client.Error
	switch {
	case err == nil:
		return fmt.Errorf("%s could %s: it succeeded, want %d", u.label, what, want)
	case client.StatusOf(err) == http.StatusUnauthorized && want != http.StatusUnauthorized:
		return u.failed(what, err)
	case !errors.As(err, &apiErr):
		return err
	case apiErr.Status != want:
		return fmt.Errorf("%s tried to %s: answered %d, want %d (%w)", u.label, what, apiErr.Status, want, err)
	case !apiErr.Problem:
		return fmt.Errorf("%s tried to %s: the %d answer is not a problem document", u.label, what, want)
	}
	return nil
}

// bCannotSee: B's lists and B's search do not show A's task or tag. B is a
// new user, so anything at all in its lists belongs to someone else.
func (iso *isolation) bCannotSee(ctx context.Context, task client.Task, tag client.Tag) error {
	b := iso.b
	all, err := b.api.ListTasks(ctx, client.TaskQuery{Limit: 100})
	if err != nil {
		return b.failed("list its tasks", err)
	}
	if err := noTasks("user B's task list", all, task.ID); err != nil {
		return err
	}
	found, err := b.api.ListTasks(ctx, client.TaskQuery{Q: task.Title})
	if err != nil {
		return b.failed("search its tasks", err)
	}
	if err := noTasks("user B's search for user A's task title", found, task.ID); err != nil {
		return err
	}
	tags, err := b.api.ListTags(ctx)
	if err != nil {
		return b.failed("list its tags", err)
	}
	if tags.Total != 0 || slices.ContainsFunc(tags.Items, func(t client.Tag) bool { return t.ID == tag.ID }) {
		return fmt.Errorf("user B's tag list shows %d tag(s) (user A's included: %t), want none",
			tags.Total, slices.ContainsFunc(tags.Items, func(t client.Tag) bool { return t.ID == tag.ID }))
	}
	return nil
}

func noTasks(what string, list client.TaskList, foreignID string) error {
	if list.Total == 0 && len(list.Items) == 0 {
		return nil
	}
	return fmt.Errorf("%s shows %d task(s) (user A's included: %t), want none", what, max(list.Total, len(list.Items)), containsTask(list, foreignID))
}

func containsTask(list client.TaskList, id string) bool {
	return slices.ContainsFunc(list.Items, func(t client.Task) bool { return t.ID == id })
}

// bCannotAttach: B cannot put A's tag on a task of its own.
func (iso *isolation) bCannotAttach(ctx context.Context, tag client.Tag) error {
	b := iso.b
	stray, err := b.api.CreateTask(ctx, client.TaskInput{Title: "taskflow verify " + iso.marker + " (user B)", TagIDs: []string{tag.ID}})
	if err == nil {
		iso.track(b, "task "+stray.ID, func(ctx context.Context) error { return b.api.DeleteTask(ctx, stray.ID) })
	}
	return b.expectStatus("attach user A's tag to a new task", err, http.StatusUnprocessableEntity)
}

// aSeesItUnchanged: A still reads its task and tag exactly as created, and
// A's own search finds the task (so B's empty search means something).
func (iso *isolation) aSeesItUnchanged(ctx context.Context, want client.Task, wantTag client.Tag) error {
	a := iso.a
	got, err := a.api.GetTask(ctx, want.ID)
	if err != nil {
		return a.failed("read its own task after user B's attempts", err)
	}
	if diffs := taskChanges(want, got, wantTag.ID); len(diffs) > 0 {
		return fmt.Errorf("user A's task changed after user B's attempts: %s", strings.Join(diffs, "; "))
	}
	found, err := a.api.ListTasks(ctx, client.TaskQuery{Q: want.Title})
	if err != nil {
		return a.failed("search its tasks", err)
	}
	if found.Total != 1 || !containsTask(found, want.ID) {
		return fmt.Errorf("user A's search for its own task's title finds %d task(s), want exactly it", found.Total)
	}
	tag, err := a.api.GetTag(ctx, wantTag.ID)
	if err != nil {
		return a.failed("read its own tag after user B's attempts", err)
	}
	if tag.Name != wantTag.Name {
		return fmt.Errorf("user A's tag was renamed from %q to %q", wantTag.Name, tag.Name)
	}
	return nil
}

func taskChanges(want, got client.Task, tagID string) []string {
	var diffs []string
	if got.Title != want.Title {
		diffs = append(diffs, fmt.Sprintf("title %q, want %q", got.Title, want.Title))
	}
	if got.Description != want.Description {
		diffs = append(diffs, "description differs")
	}
	if got.Priority != want.Priority || got.Completed != want.Completed {
		diffs = append(diffs, fmt.Sprintf("priority %s completed %t, want %s %t", got.Priority, got.Completed, want.Priority, want.Completed))
	}
	if len(got.Tags) != 1 || got.Tags[0].ID != tagID {
		diffs = append(diffs, fmt.Sprintf("%d tag(s), want only its own", len(got.Tags)))
	}
	if want.ETag != "" && got.ETag != want.ETag {
		diffs = append(diffs, fmt.Sprintf("ETag %s, want %s", got.ETag, want.ETag))
	}
	return diffs
}

// cleanup deletes what the check created, newest first, then deletes both
// users (DELETE /api/v1/auth/me removes a user's tasks and tags) as the
// last resort. It reports only what may remain on the server.
func (iso *isolation) cleanup(ctx context.Context) error {
	ctx, cancel := iso.t.cleanupContext(ctx)
	defer cancel()
	remaining := map[*user][]string{}
	for i := len(iso.created) - 1; i >= 0; i-- {
		c := iso.created[i]
		// 404: already gone.
		if err := c.del(ctx); err != nil && client.StatusOf(err) != http.StatusNotFound {
			remaining[c.owner] = append(remaining[c.owner], fmt.Sprintf("%s (%v)", c.what, err))
		}
	}
	var left []string
	for _, u := range []*user{iso.a, iso.b} {
		if err := u.api.DeleteMe(ctx); err == nil {
			continue
		}
		for _, what := range remaining[u] {
			left = append(left, fmt.Sprintf("%s's (sub %s) %s", u.label, u.subject, what))
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("cleanup could not delete %s", strings.Join(left, ", "))
	}
	return nil
}
