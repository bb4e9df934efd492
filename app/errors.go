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

// codeStatus is the one map from error codes to HTTP statuses.
var codeStatus = map[models.Code]int{
	models.CodeBadRequest:         http.StatusBadRequest,
	models.CodeUnauthorized:       http.StatusUnauthorized,
	models.CodeNotFound:           http.StatusNotFound,
	models.CodeConflict:           http.StatusConflict,
	models.CodePreconditionFailed: http.StatusPreconditionFailed,
	models.CodeInvalid:            http.StatusUnprocessableEntity,
	models.CodeRateLimited:        http.StatusTooManyRequests,
	models.CodeUnavailable:        http.StatusServiceUnavailable,
	models.CodeInternal:           http.StatusInternalServerError,
}

// statusCode names the problem type of a status that comes from Fiber
// itself (unknown route, wrong method, body too large...).
var statusCode = map[int]models.Code{
	http.StatusBadRequest:                  models.CodeBadRequest,
	http.StatusUnauthorized:                models.CodeUnauthorized,
	http.StatusNotFound:                    models.CodeNotFound,
	http.StatusMethodNotAllowed:            "method-not-allowed",
	http.StatusRequestTimeout:              "request-timeout",
	http.StatusConflict:                    models.CodeConflict,
	http.StatusPreconditionFailed:          models.CodePreconditionFailed,
	http.StatusRequestEntityTooLarge:       "payload-too-large",
	http.StatusUnsupportedMediaType:        "unsupported-media-type",
	http.StatusRequestHeaderFieldsTooLarge: "headers-too-large",
	http.StatusUnprocessableEntity:         models.CodeInvalid,
	http.StatusTooManyRequests:             models.CodeRateLimited,
	http.StatusServiceUnavailable:          models.CodeUnavailable,
	http.StatusInternalServerError:         models.CodeInternal,
}

const (
	internalDetail   = "an unexpected error occurred; the request id identifies it in the server's logs"
	unreadableDetail = "the request is not valid HTTP"
)

// errorHandler is the one place an error becomes a response: a problem
// document whose status comes from the error's code. Unknown errors are
// logged with the request id and answered with a generic 500. hsts is
// whether responses carry Strict-Transport-Security (production).
func errorHandler(log *slog.Logger, hsts bool) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := problemFor(err)
		p.RequestID = middleware.RequestIDFrom(c)
		if p.RequestID == "" {
			// Fiber refused the request before any middleware ran (a body
			// over BODY_LIMIT, headers too large, an unreadable request):
			// it still gets an id, the security headers and a log line.
			p.RequestID = middleware.AssignRequestID(c)
			middleware.SetSecurityHeaders(c, hsts)
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
		setChallengeHeaders(c, err, p.Status)
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
		status, ok := codeStatus[modelErr.Code]
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

// setChallengeHeaders adds the headers some statuses must carry: a Bearer
// challenge on 401 and Retry-After on 429 and 503.
func setChallengeHeaders(c *fiber.Ctx, err error, status int) {
	switch status {
	case http.StatusUnauthorized:
		challenge := "Bearer"
		var authErr *middleware.AuthError
		if errors.As(err, &authErr) && authErr.Challenge != "" {
			challenge = authErr.Challenge
		}
		c.Set(fiber.HeaderWWWAuthenticate, challenge)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
	}
}
