package middleware

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// Framing refuses, with a 400 that closes the connection, a request whose
// body length another HTTP server could read differently (RFC 9112,
// sections 6.1 and 6.3): Transfer-Encoding together with Content-Length,
// a Transfer-Encoding other than one "chunked", or the field twice.
//
// The proxy in front of the app may take the body to end elsewhere than
// the app does; whatever lies between the two ends would then be answered
// as a request of the app's own, one the proxy never saw (request
// smuggling). fasthttp refuses most such shapes itself, but reads a body
// with both fields as chunked and ignores "Transfer-Encoding: identity";
// it keeps neither field among the headers it parsed, so the raw header
// block is what is checked. Closing the connection discards whatever
// followed the body.
func Framing() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if ambiguousBodyLength(c.Request().Header.RawHeaders()) {
			return models.WithHeaders(
				models.Errorf(models.CodeBadRequest, "the request's body length is ambiguous: send either one Content-Length or one Transfer-Encoding: chunked"),
				map[string]string{fiber.HeaderConnection: "close"})
		}
		return c.Next()
	}
}

var (
	contentLengthField    = []byte("content-length")
	transferEncodingField = []byte("transfer-encoding")
	chunkedCoding         = []byte("chunked")
)

// ambiguousBodyLength reports whether raw, a request's header block as it
// arrived ("Name: value" lines ending in CRLF), frames its body other than
// by at most one Content-Length or by exactly one "Transfer-Encoding:
// chunked".
func ambiguousBodyLength(raw []byte) bool {
	contentLengths, encodings := 0, 0
	chunked := false
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte{'\n'})
		name, value, found := bytes.Cut(line, []byte{':'})
		if !found {
			continue
		}
		switch {
		case isField(name, contentLengthField):
			contentLengths++
		case isField(name, transferEncodingField):
			encodings++
			chunked = bytes.EqualFold(bytes.TrimSpace(value), chunkedCoding)
		}
	}
	if encodings == 0 {
		return contentLengths > 1
	}
	return encodings > 1 || contentLengths > 0 || !chunked
}

// isField reports whether name is field, ignoring case; comparing the
// lengths first skips most of a request's fields at once.
func isField(name, field []byte) bool {
	return len(name) == len(field) && bytes.EqualFold(name, field)
}
