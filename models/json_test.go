package models_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"taskflow/models"
)

// awkwardStrings cover every escaping rule of encoding/json.
var awkwardStrings = []string{
	"", "plain", `quote " and backslash \`, "tab\tnewline\ncr\rbell\abs\bff\f", "nul\x00 and \x1f, del \x7f",
	"<script>alert('&')</script>", "é ü 日本語 🎉", "line\u2028para\u2029sep", "bad utf-8 \xff\xfe end", "\xe2\x82",
	strings.Repeat("long ", 200),
}

func sampleTasks() []models.Task {
	local := time.FixedZone("X", 3600)
	due := time.Date(2025, 6, 1, 17, 0, 0, 0, time.UTC)
	done := time.Date(2025, 6, 2, 8, 30, 15, 123456000, time.UTC)
	color := "#ff7f0e"
	var tasks []models.Task
	for i, s := range awkwardStrings {
		t := models.Task{
			ID: fmt.Sprintf("0197283a-ed80-7676-9be7-db3f93f92c%02d", i), Title: s, Description: awkwardStrings[len(awkwardStrings)-1-i],
			Priority: models.PriorityLow, CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: done, Version: 3,
		}
		switch i % 4 {
		case 0:
			t.Tags = []models.Tag{}
		case 1:
			t.Tags = []models.Tag{{ID: "a", Name: s, Color: &color, TaskCount: 12, CreatedAt: done}, {ID: "b", Name: "b", CreatedAt: due.In(local)}}
			t.DueDate, t.CompletedAt, t.Completed = &due, &done, true
		case 2:
			t.Tags = nil
			t.Priority = models.PriorityHigh
			t.CreatedAt = time.Date(2024, 1, 2, 3, 4, 5, 100, local)
		}
		tasks = append(tasks, t)
	}
	return tasks
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, task := range sampleTasks() {
		want, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		if got := task.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("task %s:\n got %s\nwant %s", task.ID, got, want)
		}
	}
	for _, page := range []models.TaskPage{
		{Items: sampleTasks(), Total: 1234, Limit: 20, Offset: 40},
		{Items: []models.Task{}, Total: 0, Limit: 100},
		{Items: nil, Total: 7, Limit: 1, Offset: 9},
	} {
		want, err := json.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		if got := page.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("page:\n got %s\nwant %s", got, want)
		}
	}
}
