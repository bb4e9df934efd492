package routes

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"taskflow/auth"
	"taskflow/models"
	"taskflow/realtime"
)

// TicketTTL is how long a change-feed ticket may wait to be redeemed.
const TicketTTL = 30 * time.Second

// EventStore keeps the change feed's tickets (database.Events).
type EventStore interface {
	CreateTicket(ctx context.Context, userID string, tokenIssuedAt *time.Time, tokenExpiresAt time.Time, ttl time.Duration) (string, error)
	RedeemTicket(ctx context.Context, ticket string) (models.EventTicket, error)
}

// StreamSlots holds the per-user limit of open streams (realtime.Slots).
type StreamSlots interface {
	Take(ctx context.Context, userID string) (release func(), err error)
}

// EventsDeps is what the change feed needs.
type EventsDeps struct {
	Hub    *realtime.Hub
	Store  EventStore
	Slots  StreamSlots
	Stream realtime.StreamConfig
	// Guard authenticates bearer tokens, as on every other group.
	Guard fiber.Handler
}

// Events registers the change feed: POST /ticket and GET / (the stream).
func Events(r fiber.Router, d EventsDeps) {
	r.Post("/ticket", d.Guard, createTicket(d.Store))
	r.Get("/", authenticateStream(d.Guard), openStream(d))
}

type ticketAnswer struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}

func createTicket(store EventStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		caller, _ := auth.CallerFrom(c)
		issuedAt, expiresAt, ok := auth.TokenLifetime(c)
		if !ok {
			return auth.InvalidToken("the token could not be read")
		}
		ticket, err := store.CreateTicket(c.UserContext(), caller.UserID, issuedAt, expiresAt, TicketTTL)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(ticketAnswer{Ticket: ticket, ExpiresIn: int(TicketTTL / time.Second)})
	}
}

// authenticateStream lets a request carrying only a ticket through to the
// stream, which redeems it; any other request passes the guard first. A
// request with both a bearer token and a ticket must pass both, for the
// same user.
func authenticateStream(guard fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Query("ticket") != "" && c.Get(fiber.HeaderAuthorization) == "" {
			return c.Next()
		}
		return guard(c)
	}
}

// hijackWait bounds the wait for the HTTP server to hand a stream its
// connection: when it cannot (the client left before the answer's
// headers), the stream's subscription and place are given back.
const hijackWait = 2 * time.Second

func openStream(d EventsDeps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lastEventID, err := lastEventID(c)
		if err != nil {
			return err
		}
		owner, err := ownerOf(c, d.Store)
		if err != nil {
			return err
		}
		reason, err := d.Stream.Refusal(c.UserContext(), owner.UserID, owner.IssuedAt)
		if err != nil {
			return err
		}
		if reason != "" || !owner.ExpiresAt.After(time.Now()) {
			return auth.InvalidToken("the token that asked for this ticket is no longer valid")
		}
		release, err := d.Slots.Take(c.UserContext(), owner.UserID)
		if err != nil {
			return streamRefused(err)
		}
		stream, err := realtime.Open(d.Hub, d.Stream, owner, lastEventID, release)
		if err != nil {
			release()
			return streamRefused(err)
		}
		c.Set(fiber.HeaderContentType, "text/event-stream")
		c.Set(fiber.HeaderCacheControl, "no-store")
		// Proxies that buffer answers (nginx) would hold events back.
		c.Set("X-Accel-Buffering", "no")
		hijack(c.Context(), stream)
		return nil
	}
}

// hijack hands the connection to stream once the handlers are done: the
// stream writes the answer itself, from one goroutine, with no buffer of
// the HTTP server's held while it idles.
func hijack(ctx *fasthttp.RequestCtx, stream *realtime.Stream) {
	conn := ctx.Conn()
	var handed atomic.Bool
	unclaimed := time.AfterFunc(hijackWait, func() {
		if handed.CompareAndSwap(false, true) {
			stream.Close()
		}
	})
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(net.Conn) {
		unclaimed.Stop()
		if !handed.CompareAndSwap(false, true) {
			_ = conn.Close() // too late: the stream was given back
			return
		}
		if ctx.Response.StatusCode() != fiber.StatusOK {
			// A later handler turned the answer into an error: send that.
			w := bufio.NewWriter(conn)
			_ = ctx.Response.Write(w)
			_ = w.Flush()
			_ = conn.Close()
			stream.Close()
			return
		}
		// The server keeps hijacked connections open (KeepHijackedConns):
		// the stream closes conn when it ends.
		ctx.Response.Header.SetContentLength(-1)
		ctx.Response.Header.SetConnectionClose()
		head := append([]byte(nil), ctx.Response.Header.Header()...)
		// A goroutine of its own, so that this one returns and the server's
		// read buffer of the connection, which it still holds, is freed.
		go stream.Serve(conn, head)
	})
}

func streamRefused(err error) error {
	switch {
	case errors.Is(err, realtime.ErrTooManyStreams):
		return models.Errorf(models.CodeRateLimited, "at most %d streams may be open at once: close one first", realtime.MaxStreamsPerUser)
	case errors.Is(err, realtime.ErrClosed):
		return models.Errorf(models.CodeUnavailable, "the server is shutting down: reconnect")
	}
	return err
}

// ownerOf is the stream's owner: the ticket's when the request carries one
// (and then a bearer token, if also sent, must be the same user's), else
// the bearer token's.
func ownerOf(c *fiber.Ctx, store EventStore) (realtime.Owner, error) {
	caller, hasBearer := auth.CallerFrom(c)
	if ticket := c.Query("ticket"); ticket != "" {
		t, err := store.RedeemTicket(c.UserContext(), ticket)
		if err != nil {
			return realtime.Owner{}, err
		}
		if hasBearer && caller.UserID != t.UserID {
			return realtime.Owner{}, auth.InvalidToken("the ticket was issued to another user")
		}
		return realtime.Owner{UserID: t.UserID, IssuedAt: t.TokenIssuedAt, ExpiresAt: t.TokenExpiresAt}, nil
	}
	issuedAt, expiresAt, ok := auth.TokenLifetime(c)
	if !ok {
		return realtime.Owner{}, auth.InvalidToken("the token could not be read")
	}
	return realtime.Owner{UserID: caller.UserID, IssuedAt: issuedAt, ExpiresAt: expiresAt}, nil
}

// lastEventID is the id a reconnecting client saw last (the Last-Event-ID
// header, or last_event_id in the query for clients that cannot set it),
// or -1 for a fresh stream.
func lastEventID(c *fiber.Ctx) (int64, error) {
	raw := c.Get("Last-Event-ID")
	if raw == "" {
		raw = c.Query("last_event_id")
	}
	if raw == "" {
		return -1, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 0 {
		return 0, &models.Error{Code: models.CodeBadRequest, Message: "Last-Event-ID must be an event id: a non-negative integer",
			Fields: []models.FieldError{{Field: "last_event_id", Message: "must be a non-negative integer"}}}
	}
	return id, nil
}
