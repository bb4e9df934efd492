// Package middleware holds TaskFlow's Fiber middleware. Each constructor
// takes its dependencies as arguments; none reads the environment, and
// failures are returned as errors for the app's one error handler.
package middleware

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// HeaderRequestID carries a request's id in both directions.
const HeaderRequestID = "X-Request-ID"

const requestIDKey = "request_id"

// RequestID echoes the caller's X-Request-ID when it is sane (1 to 128
// characters of letters, digits, '.', '_' and '-'), else makes a new one, and
// sets it on the response.
func RequestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		AssignRequestID(c)
		return c.Next()
	}
}

// AssignRequestID gives the request its id as RequestID does and returns
// it. The error handler calls it for requests Fiber refuses before any
// middleware runs (a body over the limit, say), which must carry one too.
func AssignRequestID(c *fiber.Ctx) string {
	id := c.Get(HeaderRequestID)
	if !saneRequestID(id) {
		id = uuid.NewString()
	} else {
		id = string([]byte(id)) // the header's bytes belong to fasthttp; keep a copy
	}
	c.Locals(requestIDKey, id)
	c.Set(HeaderRequestID, id)
	return id
}

// RequestIDFrom returns the id RequestID gave this request, or "".
func RequestIDFrom(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '_', ch == '.':
		default:
			return false
		}
	}
	return true
}
