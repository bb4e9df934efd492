package docs

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"taskflow/middleware"
)

// corsSection is the "## CORS" section of the document's description.
func corsSection(t *testing.T) string {
	t.Helper()
	description := loadDoc(t).Info.Description
	_, section, ok := strings.Cut(description, "\n## CORS\n")
	if !ok {
		t.Fatal(`the description has no "## CORS" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// listedAfter is the code spans of the section's bullet "- <label>: ...".
func listedAfter(t *testing.T, section, label string) []string {
	t.Helper()
	for line := range strings.SplitSeq(section, "\n") {
		rest, ok := strings.CutPrefix(line, "- "+label+": ")
		if !ok {
			continue
		}
		var names []string
		for _, m := range codeSpan.FindAllStringSubmatch(rest, -1) {
			names = append(names, m[1])
		}
		return names
	}
	t.Fatalf("the CORS section has no %q bullet", "- "+label+": ")
	return nil
}

// The CORS section says exactly what the middleware sends: the lists are
// read from the functions the server builds its headers from.
func TestOpenAPICORSListsAreTheServers(t *testing.T) {
	section := corsSection(t)
	for _, list := range []struct {
		label string
		want  []string
	}{
		{"methods", middleware.CORSAllowedMethods()},
		{"request headers", middleware.CORSAllowedHeaders()},
		{"exposed headers", middleware.CORSExposedHeaders()},
	} {
		got := listedAfter(t, section, list.label)
		if !slices.Equal(got, list.want) {
			t.Errorf("CORS %s: the document lists %q, the server sends %q", list.label, got, list.want)
		}
	}
}
