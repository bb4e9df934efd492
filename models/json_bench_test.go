package models_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"taskflow/models"
)

// benchPage is a page as the list returns it: 20 tasks with 2 tags each,
// descriptions of a sentence, half of them completed with due dates.
func benchPage() models.TaskPage {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	color := "#1f77b4"
	tags := []models.Tag{
		{ID: "0197283a-ed80-7676-9be7-db3f93f92c6b", Name: "Work", Color: &color, TaskCount: 80, CreatedAt: now},
		{ID: "01972801-3fe0-73f4-b26c-38aae955cc7e", Name: "Errand <home>", TaskCount: 75, CreatedAt: now},
	}
	page := models.TaskPage{Total: 200, Limit: 20}
	for i := range 20 {
		t := models.Task{
			ID:    fmt.Sprintf("01972420-d160-7136-8823-4a13fd3029%02d", i),
			Title: fmt.Sprintf("Review the quarterly report %d", i), Description: "Office budget notes: print, email \"the draft\" & confirm before Monday.",
			Priority: models.PriorityHigh, Tags: tags, CreatedAt: now, UpdatedAt: now,
		}
		if i%2 == 0 {
			due := now.Add(time.Duration(i) * 24 * time.Hour)
			t.DueDate = &due
			t.Completed, t.CompletedAt = true, &now
		}
		page.Items = append(page.Items, t)
	}
	return page
}

// BenchmarkTaskPageJSON measures encoding one list page: with
// encoding/json (what c.JSON does) and with AppendJSON (what the handler
// does).
func BenchmarkTaskPageJSON(b *testing.B) {
	page := benchPage()
	b.Run("encoding-json", func(b *testing.B) {
		var size int
		for b.Loop() {
			out, err := json.Marshal(page)
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	b.Run("AppendJSON", func(b *testing.B) {
		var size int
		for b.Loop() {
			out := page.AppendJSON(make([]byte, 0, page.JSONSizeHint()))
			size = len(out)
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
}
