package routes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"taskflow/auth"
	"taskflow/middleware"
	"taskflow/models"
)

// Password length limits, in bytes of UTF-8 (72 is what bcrypt can take;
// kept so that a future switch of hash cannot lock anyone out).
const (
	minPasswordBytes = 8
	maxPasswordBytes = 72
)

// maxNameRunes is the longest account name.
const maxNameRunes = 100

// UserStore keeps local accounts. Authenticate fails with an unauthorized
// error, the same for an unknown email and a wrong password; Get,
// DeleteAccount fail with not found for an unknown id. DeleteAccount and
// DeleteData (an external user's account, which has no row here) erase
// everything kept about the account and refuse its tokens, in one
// transaction.
type UserStore interface {
	Create(ctx context.Context, reg models.Registration) (models.User, error)
	Authenticate(ctx context.Context, email, password string) (models.User, error)
	Get(ctx context.Context, id string) (models.User, error)
	Rename(ctx context.Context, id string, name *string) (models.User, error)
	ChangePassword(ctx context.Context, id, current, next string) error
	DeleteAccount(ctx context.Context, id string) error
	DeleteData(ctx context.Context, userID string) error
}

// RefreshTokenStore issues, rotates and revokes refresh tokens. Issue
// starts the family of a login that began at sessionStart, and fails with
// an unauthorized error when a revocation of the user's tokens has come
// since. Rotate fails with an unauthorized error for an unknown, expired,
// spent or revoked token, or one of a session a revocation ended.
// RevokeAll logs a user out everywhere: every refresh token family
// revoked, every access token issued up to now refused.
type RefreshTokenStore interface {
	Issue(ctx context.Context, userID string, sessionStart time.Time) (models.RefreshToken, error)
	Rotate(ctx context.Context, token string) (models.RefreshToken, error)
	Revoke(ctx context.Context, token string) error
	RevokeAll(ctx context.Context, userID string) error
}

// AccessTokenSigner mints this API's access tokens, each carrying when
// its session began.
type AccessTokenSigner interface {
	SignSession(userID string, sessionStart time.Time) (string, error)
	Lifetime() time.Duration
}

// LoginThrottle limits the passwords tried per (email, client). It never
// fails a login for its own errors: those are its to log.
type LoginThrottle interface {
	// Reserve counts an attempt before its password is checked; false
	// means the pair is refused for retryAfter.
	Reserve(ctx context.Context, email, clientIP string) (retryAfter time.Duration, allowed bool)
	// Release takes back an attempt whose password was never judged.
	Release(ctx context.Context, email, clientIP string)
	// Reset forgets the pair's attempts after a successful login.
	Reset(ctx context.Context, email, clientIP string)
}

// RevocationCache is the guard's cache of token cutoffs. Forget is called
// after this process revoked userID's tokens, so that it refuses them at
// once (other replicas learn of it by polling).
type RevocationCache interface {
	Forget(userID string)
}

// AuthDeps is what the auth routes need.
type AuthDeps struct {
	Users        UserStore
	Tokens       RefreshTokenStore
	AccessTokens AccessTokenSigner
	Failures     LoginThrottle
	Validate     *Validator
	// Guard authenticates /me, /password and /logout-all.
	Guard       fiber.Handler
	Revocations RevocationCache
	// RegisterLimit and LoginLimit are the per-IP limits on register and
	// login (and on a password change, which also checks a password);
	// TokenLimit is the looser one on refresh and logout.
	RegisterLimit fiber.Handler
	LoginLimit    fiber.Handler
	TokenLimit    fiber.Handler
}

// Auth registers the account and token endpoints under r (/api/v1/auth).
func Auth(r fiber.Router, d AuthDeps) {
	h := authHandlers{d}
	r.Post("/register", d.RegisterLimit, h.register)
	r.Post("/login", d.LoginLimit, h.login)
	r.Post("/refresh", d.TokenLimit, h.refresh)
	r.Post("/logout", d.TokenLimit, h.logout)
	r.Get("/me", d.Guard, h.me)
	r.Delete("/me", d.Guard, h.deleteMe)
	r.Patch("/me", d.Guard, h.updateMe)
	r.Post("/password", d.LoginLimit, d.Guard, h.changePassword)
	r.Post("/logout-all", d.TokenLimit, d.Guard, h.logoutAll)
}

type authHandlers struct{ AuthDeps }

type registerRequest struct {
	Email    string  `json:"email" validate:"required,email,max=254"`
	Password string  `json:"password"`
	Name     *string `json:"name" validate:"omitempty,max=100"`
	bodyMembers
}

type loginRequest struct {
	Email    string `json:"email" validate:"required"`
	Password string `json:"password" validate:"required"`
	bodyMembers
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required"`
	bodyMembers
}

type userResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      *string   `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type tokenPairResponse struct {
	User         userResponse `json:"user"`
	AccessToken  string       `json:"access_token"`
	RefreshToken string       `json:"refresh_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int64        `json:"expires_in"`
}

type meResponse struct {
	ID        string     `json:"id"`
	Email     *string    `json:"email"`
	Name      *string    `json:"name"`
	CreatedAt *time.Time `json:"created_at"`
	Provider  string     `json:"provider"`
}

func (h authHandlers) register(c *fiber.Ctx) error {
	started := time.Now()
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Email = models.NormalizeEmail(req.Email)
	req.Name = trimmedName(req.Name)
	if err := h.validateRegistration(&req); err != nil {
		return err
	}
	user, err := h.Users.Create(c.UserContext(), models.Registration{Email: req.Email, Name: req.Name, Password: req.Password})
	if err != nil {
		return err
	}
	return h.respondWithTokens(c, fiber.StatusCreated, user, started)
}

// validateRegistration reports every invalid field at once. The password
// is measured in bytes, which the validator's tags cannot do.
func (h authHandlers) validateRegistration(req *registerRequest) error {
	var fields []models.FieldError
	if models.HasInvisibleRunes(req.Email) {
		fields = append(fields, models.FieldError{Field: "email", Message: "must not contain invisible characters"})
	} else if problem := models.EmailLookAlikeProblem(req.Email); problem != "" {
		fields = append(fields, models.FieldError{Field: "email", Message: problem})
	}
	if problem := passwordProblem(req.Password); problem != "" {
		fields = append(fields, models.FieldError{Field: "password", Message: problem})
	}
	return validate(h.Validate, req, fields...)
}

func passwordProblem(password string) string {
	switch {
	case password == "":
		return "is required"
	case len(password) < minPasswordBytes:
		return "must be at least 8 bytes"
	case len(password) > maxPasswordBytes:
		return "must be at most 72 bytes"
	}
	return ""
}

// login begins a session. Its start is taken before the password is
// checked: a revocation committed after the check read the account (a
// password change, a logout everywhere) ends this session too.
func (h authHandlers) login(c *fiber.Ctx) error {
	started := time.Now()
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Email = models.NormalizeEmail(req.Email)
	if err := validate(h.Validate, &req); err != nil {
		return err
	}
	var user models.User
	err := h.throttledPasswordCheck(c, req.Email, func(ctx context.Context) (err error) {
		user, err = h.Users.Authenticate(ctx, req.Email, req.Password)
		return err
	})
	if err != nil {
		return err
	}
	return h.respondWithTokens(c, fiber.StatusOK, user, started)
}

// throttledPasswordCheck runs check, which judges a password of email,
// under the failed-login throttle of (email, client): the attempt is
// reserved first (refused with 429 past the limit), forgotten on success,
// kept on a wrong password, and given back when check failed for another
// reason (the database), which judged no password.
func (h authHandlers) throttledPasswordCheck(c *fiber.Ctx, email string, check func(context.Context) error) error {
	ctx, client := c.UserContext(), middleware.ClientIP(c)
	if wait, allowed := h.Failures.Reserve(ctx, email, client); !allowed {
		return models.RateLimited(wait)
	}
	err := check(ctx)
	switch {
	case err == nil:
		h.Failures.Reset(ctx, email, client)
	case models.ErrorCode(err) != models.CodeUnauthorized:
		h.Failures.Release(ctx, email, client)
	}
	return err
}

func (h authHandlers) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := validate(h.Validate, &req); err != nil {
		return err
	}
	next, err := h.Tokens.Rotate(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	user, err := h.Users.Get(c.UserContext(), next.UserID)
	if models.ErrorCode(err) == models.CodeNotFound {
		return models.Errorf(models.CodeUnauthorized, "the refresh token is invalid, expired or revoked")
	}
	if err != nil {
		return err
	}
	return h.respondWithPair(c, fiber.StatusOK, user, next)
}

func (h authHandlers) logout(c *fiber.Ctx) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := validate(h.Validate, &req); err != nil {
		return err
	}
	if err := h.Tokens.Revoke(c.UserContext(), req.RefreshToken); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// me describes the caller. A local caller's account is read (it may have
// been deleted since the token was issued); an external caller has no
// account here and is described from its token.
func (h authHandlers) me(c *fiber.Ctx) error {
	caller, err := authCaller(c)
	if err != nil {
		return err
	}
	if caller.Provider == models.ProviderExternal {
		return c.JSON(meResponse{
			ID: caller.UserID, Email: claimOrNil(caller.Email), Name: claimOrNil(caller.Name),
			Provider: string(models.ProviderExternal),
		})
	}
	user, err := h.Users.Get(c.UserContext(), caller.UserID)
	if models.ErrorCode(err) == models.CodeNotFound {
		return auth.InvalidToken("the account of this token no longer exists")
	}
	if err != nil {
		return err
	}
	return c.JSON(meResponse{
		ID: user.ID, Email: &user.Email, Name: user.Name, CreatedAt: &user.CreatedAt,
		Provider: string(models.ProviderLocal),
	})
}

// deleteMe deletes the caller's account with everything kept about it, and
// revokes its tokens. An external caller's answer waits until the
// frontend's next token is honoured (see waitPastCutoff): that token is a
// new, empty account of the same user.
func (h authHandlers) deleteMe(c *fiber.Ctx) error {
	caller, err := authCaller(c)
	if err != nil {
		return err
	}
	if caller.Provider == models.ProviderExternal {
		err = h.Users.DeleteData(c.UserContext(), caller.UserID)
	} else {
		err = h.Users.DeleteAccount(c.UserContext(), caller.UserID)
	}
	if models.ErrorCode(err) == models.CodeNotFound {
		return auth.InvalidToken("the account of this token no longer exists")
	}
	if err != nil {
		return err
	}
	h.Revocations.Forget(caller.UserID)
	if caller.Provider == models.ProviderExternal {
		waitPastCutoff(caller.UserID)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// updateMe renames a local caller's account. An external caller's name
// belongs to the frontend: 403.
func (h authHandlers) updateMe(c *fiber.Ctx) error {
	caller, err := localCaller(c, "the name of an external account is changed where it was created")
	if err != nil {
		return err
	}
	name, err := decodeNameUpdate(c)
	if err != nil {
		return err
	}
	user, err := h.Users.Rename(c.UserContext(), caller.UserID, name)
	if models.ErrorCode(err) == models.CodeNotFound {
		return auth.InvalidToken("the account of this token no longer exists")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(userResponse{ID: user.ID, Email: user.Email, Name: user.Name, CreatedAt: user.CreatedAt})
}

// decodeNameUpdate reads PATCH /me's body: "name" is required, a string of
// at most 100 characters once trimmed, or null (blank is null too).
func decodeNameUpdate(c *fiber.Ctx) (*string, error) {
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		return nil, err
	}
	raw, ok := body["name"]
	if !ok {
		return nil, models.Invalid(models.FieldError{Field: "name", Message: "is required"})
	}
	var name *string
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, models.Invalid(models.FieldError{Field: "name", Message: "must be a string or null"})
	}
	name = trimmedName(name)
	if name != nil && utf8.RuneCountInString(*name) > maxNameRunes {
		return nil, models.Invalid(models.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxNameRunes)})
	}
	return name, nil
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	bodyMembers
}

// changePassword replaces a local caller's password. The current one is
// checked like a login's (the same throttle on failures), so a stolen
// access token cannot be used to guess it at will. On success every
// session of the account ends: the answer carries no tokens.
func (h authHandlers) changePassword(c *fiber.Ctx) error {
	caller, err := localCaller(c, "the password of an external account is changed where it was created")
	if err != nil {
		return err
	}
	var req passwordChangeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := h.passwordChangeProblems(&req); err != nil {
		return err
	}
	ctx := c.UserContext()
	user, err := h.Users.Get(ctx, caller.UserID)
	if models.ErrorCode(err) == models.CodeNotFound {
		return auth.InvalidToken("the account of this token no longer exists")
	}
	if err != nil {
		return err
	}
	err = h.throttledPasswordCheck(c, user.Email, func(ctx context.Context) error {
		return h.Users.ChangePassword(ctx, user.ID, req.CurrentPassword, req.NewPassword)
	})
	if err != nil {
		return err
	}
	h.Revocations.Forget(user.ID)
	waitPastCutoff(user.ID)
	return c.SendStatus(fiber.StatusNoContent)
}

func (h authHandlers) passwordChangeProblems(req *passwordChangeRequest) error {
	var fields []models.FieldError
	if req.CurrentPassword == "" {
		fields = append(fields, models.FieldError{Field: "current_password", Message: "is required"})
	}
	if problem := passwordProblem(req.NewPassword); problem != "" {
		fields = append(fields, models.FieldError{Field: "new_password", Message: problem})
	}
	return validate(h.Validate, req, fields...)
}

// logoutAll ends every session of the caller: refresh tokens revoked,
// access tokens issued up to now refused.
func (h authHandlers) logoutAll(c *fiber.Ctx) error {
	caller, err := authCaller(c)
	if err != nil {
		return err
	}
	if err := h.Tokens.RevokeAll(c.UserContext(), caller.UserID); err != nil {
		return err
	}
	h.Revocations.Forget(caller.UserID)
	waitPastCutoff(caller.UserID)
	return c.SendStatus(fiber.StatusNoContent)
}

// waitPastCutoff delays the answer to a revocation of userID's tokens
// until the clock has passed into the whole second after the last iat the
// new cutoff refuses: the next second for this API's own accounts,
// models.TokenClockSkew later for an external user, whose frontend's
// tokens get that leeway (see models.TokenCutoff). A token's iat has whole
// seconds, so tokens issued in that second are refused with the others;
// waiting makes the client's next login, or the frontend's next token,
// fall after it. The wait is bounded by that leeway and a second, and is
// no database work, so the request's database deadline does not cut it
// short (it would answer before a new token works).
func waitPastCutoff(userID string) {
	refusedThrough := models.TokenCutoff{UserID: userID, NotBefore: time.Now()}.RefusedThrough()
	time.Sleep(time.Until(refusedThrough.Truncate(time.Second).Add(time.Second)))
}

// localCaller is the caller of a route only local accounts may use; an
// external caller gets 403 with message.
func localCaller(c *fiber.Ctx, message string) (models.Caller, error) {
	caller, err := authCaller(c)
	if err != nil {
		return caller, err
	}
	if caller.Provider != models.ProviderLocal {
		return caller, models.Errorf(models.CodeForbidden, "%s", message)
	}
	return caller, nil
}

// respondWithTokens starts a new session for user, begun at started: a
// new refresh token family and an access token.
func (h authHandlers) respondWithTokens(c *fiber.Ctx, status int, user models.User, started time.Time) error {
	refresh, err := h.Tokens.Issue(c.UserContext(), user.ID, started)
	if err != nil {
		return err
	}
	return h.respondWithPair(c, status, user, refresh)
}

// respondWithPair answers refresh and an access token of its session.
func (h authHandlers) respondWithPair(c *fiber.Ctx, status int, user models.User, refresh models.RefreshToken) error {
	access, err := h.AccessTokens.SignSession(user.ID, refresh.SessionStartedAt)
	if err != nil {
		return err
	}
	// Token responses must not be cached (RFC 6749, section 5.1).
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(tokenPairResponse{
		User:         userResponse{ID: user.ID, Email: user.Email, Name: user.Name, CreatedAt: user.CreatedAt},
		AccessToken:  access,
		RefreshToken: refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    int64(h.AccessTokens.Lifetime() / time.Second),
	})
}

func authCaller(c *fiber.Ctx) (models.Caller, error) {
	caller, ok := auth.CallerFrom(c)
	if !ok {
		return models.Caller{}, errors.New("route is not behind the auth guard")
	}
	return caller, nil
}

func trimmedName(s *string) *string {
	if s == nil {
		return nil
	}
	trimmed := strings.TrimSpace(*s)
	if trimmed == "" {
		return nil
	}
	return &trimmed
}

func claimOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
