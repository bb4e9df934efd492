package app

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"taskflow/middleware"
	"taskflow/models"
)

// MIMEProblem is the media type of every error response.
const MIMEProblem = "application/problem+json"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	RequestID string              `json:"request_id"`
	Errors    []models.FieldError `json:"errors,omitempty"`
}

// codeStatus is the one table of error codes and HTTP statuses. Each
// status has one code, so the table read backwards (statusCode) also names
// the problem type of a status Fiber raises itself (an unknown route, a
// wrong method, a body too large...).
var codeStatus = map[models.Code]int{
	models.CodeBadRequest:           http.StatusBadRequest,
	models.CodeUnauthorized:         http.StatusUnauthorized,
	models.CodeForbidden:            http.StatusForbidden,
	models.CodeNotFound:             http.StatusNotFound,
	models.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	models.CodeRequestTimeout:       http.StatusRequestTimeout,
	models.CodeConflict:             http.StatusConflict,
	models.CodePreconditionFailed:   http.StatusPreconditionFailed,
	models.CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	models.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	models.CodeInvalid:              http.StatusUnprocessableEntity,
	models.CodeRateLimited:          http.StatusTooManyRequests,
	models.CodeHeadersTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
	models.CodeInternal:             http.StatusInternalServerError,
	models.CodeUnavailable:          http.StatusServiceUnavailable,
}

// statusCode is codeStatus read backwards.
var statusCode = invert(codeStatus)

// refinedStatus holds the codes that share a status with a code of
// codeStatus but name a problem type of their own (kept apart so that
// codeStatus still reads backwards).
var refinedStatus = map[models.Code]int{
	models.CodeIdempotencyKeyReused:   http.StatusUnprocessableEntity,
	models.CodeIdempotencyKeyInFlight: http.StatusConflict,
}

// statusOf is the status of code, and false for a code no table lists.
func statusOf(code models.Code) (int, bool) {
	if status, ok := codeStatus[code]; ok {
		return status, true
	}
	status, ok := refinedStatus[code]
	return status, ok
}

func invert(codes map[models.Code]int) map[int]models.Code {
	statuses := make(map[int]models.Code, len(codes))
	for code, status := range codes {
		statuses[status] = code
	}
	return statuses
}

const (
	internalDetail   = "an unexpected error occurred; the request id identifies it in the server's logs"
	unreadableDetail = "the request is not valid HTTP"
)

// requestIDs are the request-id middleware's functions the error handler
// needs: the id of a request, or "" when Fiber refused the request before
// any middleware ran; and, for such a request, a new id along with the
// headers every response carries.
type requestIDs struct {
	of     func(c *fiber.Ctx) string
	assign func(c *fiber.Ctx) string
}

// errorHandler is the one place an error becomes a response: a problem
// document whose status comes from the error's code, with the headers the
// error carries. Unknown errors are logged with the request id and
// answered with a generic 500.
func errorHandler(log *slog.Logger, ids requestIDs) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := problemFor(err)
		p.RequestID = ids.of(c)
		if p.RequestID == "" {
			// Fiber refused the request before any middleware ran (a body
			// over BODY_LIMIT, headers too large, an unreadable request):
			// it still gets an id, the security headers and a log line.
			p.RequestID = ids.assign(c)
			if p.Status == http.StatusBadRequest {
				p.Detail = unreadableDetail // fasthttp's message quotes the raw request, headers and all
			}
			log.InfoContext(c.UserContext(), "request refused before routing", "request_id", p.RequestID,
				"method", c.Method(), "path", c.Path(), "status", p.Status)
		}
		if p.Status >= 500 {
			log.ErrorContext(c.UserContext(), "request failed", "request_id", p.RequestID,
				"method", c.Method(), "path", c.Path(), "status", p.Status, "error", err.Error())
		}
		setErrorHeaders(c, err, p.Status)
		body, marshalErr := json.Marshal(p)
		if marshalErr != nil {
			return marshalErr
		}
		c.Response().ResetBody()
		c.Response().Header.Del(fiber.HeaderETag)
		c.Response().Header.Del(fiber.HeaderLocation)
		c.Status(p.Status)
		c.Set(fiber.HeaderContentType, MIMEProblem)
		return c.Send(body)
	}
}

func problemFor(err error) Problem {
	var modelErr *models.Error
	var fiberErr *fiber.Error
	switch {
	case errors.As(err, &modelErr):
		status, ok := statusOf(modelErr.Code)
		if !ok {
			status = http.StatusInternalServerError
		}
		detail := modelErr.Message
		if status == http.StatusInternalServerError {
			detail = internalDetail
		}
		return newProblem(status, modelErr.Code, detail, modelErr.Fields)
	case errors.As(err, &fiberErr):
		code, ok := statusCode[fiberErr.Code]
		if !ok {
			code = models.Code(slugFor(fiberErr.Code))
		}
		detail := fiberErr.Message
		if fiberErr.Code >= 500 {
			detail = internalDetail
		}
		return newProblem(fiberErr.Code, code, detail, nil)
	}
	return newProblem(http.StatusInternalServerError, models.CodeInternal, internalDetail, nil)
}

func newProblem(status int, code models.Code, detail string, fields []models.FieldError) Problem {
	return Problem{
		Type:   "urn:taskflow:problem:" + string(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Errors: fields,
	}
}

func slugFor(status int) string {
	if status >= 500 {
		return string(models.CodeInternal)
	}
	return string(models.CodeBadRequest)
}

// setErrorHeaders sets the headers err carries, and those its status
// must have when err names none: a Bearer challenge on 401, Retry-After
// on 429 and 503.
func setErrorHeaders(c *fiber.Ctx, err error, status int) {
	var headers map[string]string
	var withHeaders models.HeaderError
	if errors.As(err, &withHeaders) {
		headers = withHeaders.ResponseHeaders()
	}
	for name, value := range headers {
		c.Set(name, value)
	}
	setDefault := func(name, value string) {
		if _, ok := headers[name]; !ok {
			c.Set(name, value)
		}
	}
	switch status {
	case http.StatusUnauthorized:
		setDefault(fiber.HeaderWWWAuthenticate, "Bearer")
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		setDefault(fiber.HeaderRetryAfter, "1")
	}
}

// problemRenderer renders the problem document err would get as c's
// answer, without answering: a batch lists one per command it refused. A
// 5xx is logged as the error handler logs a failed request's.
func problemRenderer(log *slog.Logger) func(c *fiber.Ctx, err error) (int, []byte) {
	return func(c *fiber.Ctx, err error) (int, []byte) {
		status, body := renderProblem(c, err)
		if status >= 500 {
			log.ErrorContext(c.UserContext(), "batch command failed", "request_id", middleware.RequestIDFrom(c),
				"method", c.Method(), "path", c.Path(), "status", status, "error", err.Error())
		}
		return status, body
	}
}

func renderProblem(c *fiber.Ctx, err error) (int, []byte) {
	p := problemFor(err)
	p.RequestID = middleware.RequestIDFrom(c)
	body, marshalErr := json.Marshal(p)
	if marshalErr != nil {
		return http.StatusInternalServerError, nil
	}
	return p.Status, body
}
