// Conditional requests: ETags from versions, If-None-Match on reads and
// If-Match on writes (RFC 9110, section 13).

package routes

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// etag is the strong entity tag of a task version: the number, quoted.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifNoneMatch reports whether the If-None-Match header names version (or
// is "*"): the client's copy is current. It compares weakly (RFC 9110,
// 13.1.2), so W/"3" matches version 3 too.
func ifNoneMatch(c *fiber.Ctx, version int64) bool {
	header := strings.TrimSpace(c.Get(fiber.HeaderIfNoneMatch))
	if header == "" {
		return false
	}
	current := etag(version)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == current {
			return true
		}
	}
	return false
}

// ifMatch reads the If-Match header: nil when absent, Any for "*", else the
// versions its strong entity tags name. Weak tags (W/"3") never match, as
// If-Match compares strongly; a tag that is not one of ours matches nothing.
func ifMatch(c *fiber.Ctx) *models.Precondition {
	header := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if header == "" {
		return nil
	}
	cond := &models.Precondition{}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			cond.Any = true
			continue
		}
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && v > 0 {
			cond.Versions = append(cond.Versions, v)
		}
	}
	return cond
}
