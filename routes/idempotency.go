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

// IdempotencyStore keeps the answers of writes sent with an
// Idempotency-Key. A write's success is recorded by the store that makes
// the write, with the write itself (see models.Keyed and keyed); Save
// keeps the answers no store recorded: refusals, which wrote nothing.
type IdempotencyStore interface {
	// Lookup returns the answer kept under the user's key and the
	// fingerprint of the request it answered.
	Lookup(ctx context.Context, userID, key string) (fingerprint string, answer models.Answer, found bool, err error)
	Save(ctx context.Context, userID, key, fingerprint string, answer models.Answer) error
}

// Idempotent makes the writes (POST, PUT, PATCH, DELETE) of the group it
// is mounted on honour Idempotency-Key: the first request with a key runs
// and its answer is kept; the same request again gets that answer, byte
// for byte, with Idempotent-Replayed: true. Requests without the header,
// and reads, pass through untouched. It runs after the guard, since keys
// belong to the caller.
//
// A replay costs one lookup. A first request costs that lookup and its
// write, which records its own answer (the handler passes the key to its
// store: see keyed). When another request with the same key recorded its
// answer first, the store refuses the write as in flight: by then that
// answer is committed, so this request gets it as a replay.
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
		fp := fingerprint(c)
		if replayed, err := replay(c, store, userID, key, fp); err != nil || replayed {
			return err
		}
		k := &models.Keyed{Key: key, Fingerprint: fp}
		c.Locals(keyedLocal, k)
		err = c.Next()
		if models.ErrorCode(err) == models.CodeIdempotencyKeyInFlight {
			if replayed, lookupErr := replay(c, store, userID, key, fp); lookupErr != nil || replayed {
				return lookupErr
			}
			return err // not stored: the client retries the key
		}
		answer := capture(c, err)
		if k.Recorded || answer.Status >= 500 {
			return nil // a 5xx is not kept: the client may retry the key
		}
		return store.Save(c.UserContext(), userID, key, fp, answer)
	}
}

// replay answers the request with the answer kept under its key, if any:
// the same request's answer again, or a refusal if the key was used for
// another request.
func replay(c *fiber.Ctx, store IdempotencyStore, userID, key, fp string) (bool, error) {
	stored, answer, found, err := store.Lookup(c.UserContext(), userID, key)
	switch {
	case err != nil:
		return false, err
	case !found:
		return false, nil
	case stored != fp:
		return false, models.ErrIdempotencyKeyReused()
	}
	sendAnswer(c, answer)
	c.Set(HeaderIdempotentReplayed, "true")
	return true, nil
}

// keyedLocal is where Idempotent leaves a request's models.Keyed for its
// handler.
const keyedLocal = "taskflow.idempotency-key"

// keyed is the request's Idempotency-Key with the answer a success gets
// (shape, from created, changed or deleted), for the handler to pass to
// its store's write; nil without a key.
func keyed(c *fiber.Ctx, shape models.Keyed) *models.Keyed {
	k, ok := c.Locals(keyedLocal).(*models.Keyed)
	if !ok {
		return nil
	}
	k.Status, k.ContentType, k.Location, k.ETag, k.Body = shape.Status, shape.ContentType, shape.Location, shape.ETag, shape.Body
	return k
}

// created is the answer of a create in collection: 201, the object as
// JSON, its Location, and its version as ETag when it has one.
func created(collection string, etag bool) models.Keyed {
	return models.Keyed{Status: fiber.StatusCreated, ContentType: fiber.MIMEApplicationJSON, Location: collection, ETag: etag, Body: true}
}

// changed is the answer of a replace or an update: 200 and the object.
func changed(etag bool) models.Keyed {
	return models.Keyed{Status: fiber.StatusOK, ContentType: fiber.MIMEApplicationJSON, ETag: etag, Body: true}
}

// deleted is the answer of a delete: 204, nothing else.
func deleted() models.Keyed { return models.Keyed{Status: fiber.StatusNoContent} }

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

// capture returns the answer the client will get: err, the chain's
// error, is rendered here, by the app's error handler, so that the
// problem document is what is kept.
func capture(c *fiber.Ctx, err error) models.Answer {
	if err != nil {
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
