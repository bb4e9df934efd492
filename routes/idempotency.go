package routes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// HeaderIdempotencyKey names the request a client may retry safely;
// HeaderIdempotentReplayed marks an answer given again from storage.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// IdempotencyStore runs a write at most once per user and key (see
// database.IdempotencyKeys.Do): write gets a context whose stores'
// statements share the key's transaction.
type IdempotencyStore interface {
	Do(ctx context.Context, userID, key, fingerprint string,
		write func(ctx context.Context) models.Answer) (answer models.Answer, replayed bool, err error)
}

// Idempotent makes the writes (POST, PUT, PATCH, DELETE) of the group it
// is mounted on honour Idempotency-Key: the first request with a key runs
// and its answer is kept; the same request again gets that answer, byte
// for byte, with Idempotent-Replayed: true. Requests without the header,
// and reads, pass through untouched. It runs after the guard, since keys
// belong to the caller.
func Idempotent(store IdempotencyStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !isWrite(c.Method()) {
			return c.Next()
		}
		key, present, err := idempotencyKey(c)
		if err != nil || !present {
			if err != nil {
				return err
			}
			return c.Next()
		}
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		requestCtx := c.UserContext()
		answer, replayed, err := store.Do(requestCtx, userID, key, fingerprint(c), func(ctx context.Context) models.Answer {
			c.SetUserContext(ctx)
			defer c.SetUserContext(requestCtx)
			return runAndCapture(c)
		})
		if err != nil {
			return err // rendered by the error handler, which drops the unstored answer
		}
		if replayed {
			sendAnswer(c, answer)
			c.Set(HeaderIdempotentReplayed, "true")
		}
		return nil
	}
}

func isWrite(method string) bool {
	switch method {
	case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete:
		return true
	}
	return false
}

// idempotencyKey reads the header: absent is fine; present, it must be
// one value of 1 to 255 visible ASCII characters.
func idempotencyKey(c *fiber.Ctx) (string, bool, error) {
	values := c.Request().Header.PeekAll(HeaderIdempotencyKey)
	if len(values) == 0 {
		return "", false, nil
	}
	if len(values) > 1 || !validIdempotencyKey(values[0]) {
		return "", true, models.Errorf(models.CodeBadRequest,
			"the Idempotency-Key header must be one value of 1 to %d visible ASCII characters", models.MaxIdempotencyKeyLength)
	}
	return string(values[0]), true, nil
}

func validIdempotencyKey(key []byte) bool {
	if len(key) == 0 || len(key) > models.MaxIdempotencyKeyLength {
		return false
	}
	for _, b := range key {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint identifies the request a key was sent with: method, path
// and body, exactly as they came (a body that differs by a space is
// another request).
func fingerprint(c *fiber.Ctx) string {
	h := sha256.New()
	h.Write([]byte(c.Method()))
	h.Write([]byte{0})
	h.Write([]byte(c.Path()))
	h.Write([]byte{0})
	h.Write(c.Body())
	return hex.EncodeToString(h.Sum(nil))
}

// runAndCapture runs the rest of the chain and returns the answer the
// client will get: an error is rendered here, by the app's error handler,
// so that the problem document is what is stored.
func runAndCapture(c *fiber.Ctx) models.Answer {
	if err := c.Next(); err != nil {
		if handlerErr := c.App().ErrorHandler(c, err); handlerErr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	resp := c.Response()
	contentType := string(resp.Header.Peek(fiber.HeaderContentType))
	if resp.StatusCode() == fiber.StatusNoContent {
		contentType = "" // a 204 goes out without one, whatever the header holds
	}
	return models.Answer{
		Status:      resp.StatusCode(),
		ContentType: contentType,
		Location:    string(resp.Header.Peek(fiber.HeaderLocation)),
		ETag:        string(resp.Header.Peek(fiber.HeaderETag)),
		Body:        append([]byte(nil), resp.Body()...),
	}
}

// sendAnswer writes a stored answer as it was first sent.
func sendAnswer(c *fiber.Ctx, a models.Answer) {
	c.Status(a.Status)
	if a.ContentType != "" {
		c.Set(fiber.HeaderContentType, a.ContentType)
	} else {
		c.Response().Header.SetNoDefaultContentType(true) // a 204 went out without one
	}
	if a.Location != "" {
		c.Set(fiber.HeaderLocation, a.Location)
	}
	if a.ETag != "" {
		c.Set(fiber.HeaderETag, a.ETag)
	}
	c.Response().SetBodyRaw(a.Body)
}
