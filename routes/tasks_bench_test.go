package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"taskflow/app"
	"taskflow/app/apptest"
	"taskflow/client"
	"taskflow/config"
	"taskflow/models"
)

// seedBenchUser gives a new user 5 tags and n tasks carrying 2 of them
// each, through the stores (the HTTP API would take far longer).
func seedBenchUser(b *testing.B, s *apptest.Server, n int) user {
	b.Helper()
	ctx := context.Background()
	u := newUser(b)
	stores := app.NewStores(s.DB, config.Config{MaxTagsPerUser: 500, MaxTasksPerUser: 10000}, nil)
	tags, tasks := stores.Tags, stores.Tasks
	var tagIDs []string
	for i := range 5 {
		tag, err := tags.Create(ctx, u.id, models.TagInput{Name: fmt.Sprintf("tag %d", i)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		tagIDs = append(tagIDs, tag.ID)
	}
	for i := range n {
		_, err := tasks.Create(ctx, u.id, models.TaskInput{
			Title: fmt.Sprintf("Task %03d", i), Description: "Review the draft and send notes to the team before Monday.",
			Priority: models.PriorityMedium, TagIDs: []string{tagIDs[i%5], tagIDs[(i+1)%5]},
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	return u
}

// BenchmarkListHandler measures GET /api/v1/tasks (the default page of 20
// tagged tasks out of 200) in process: the whole middleware chain, the
// guard, the store's statements and the JSON, without a network between
// the client and the app. SQLite always; PostgreSQL with TEST_DATABASE_URL.
func BenchmarkListHandler(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB) apptest.Database
	}{{"sqlite", apptest.SQLite}, {"postgres", apptest.Postgres}}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			s := apptest.Start(b, d.open(b), map[string]string{"LOG_LEVEL": "warn"})
			u := seedBenchUser(b, s, 200)
			handler := s.App.Handler()
			var ctx fasthttp.RequestCtx
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.ResetUserValues() // as fasthttp does between requests
				ctx.Request.Header.SetMethod(fiber.MethodGet)
				ctx.Request.SetRequestURI("/api/v1/tasks")
				ctx.Request.Header.Set(fiber.HeaderAuthorization, "Bearer "+u.token)
				handler(&ctx)
				if status := ctx.Response.StatusCode(); status != fiber.StatusOK {
					b.Fatalf("status %d, want 200: %s", status, ctx.Response.Body())
				}
			}
			var page client.TaskList
			if err := json.Unmarshal(ctx.Response.Body(), &page); err != nil || len(page.Items) != 20 || page.Total != 200 {
				b.Fatalf("last page: %d items of %d (%v), want 20 of 200", len(page.Items), page.Total, err)
			}
		})
	}
}
