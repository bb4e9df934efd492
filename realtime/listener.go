package realtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"taskflow/database/pgpool"
)

// ListenerName is the application_name of the listener's connection, so
// an operator (or a test) can tell it apart in pg_stat_activity.
const ListenerName = "taskflow-events-listener"

// Reconnection backoff of the listener, and how often a listener that
// lost its connection looks whether streams need it back (a look in
// memory: nothing is sent anywhere).
const (
	listenerBackoffFirst = 100 * time.Millisecond
	listenerBackoffLast  = 5 * time.Second
	listenerConnect      = 10 * time.Second
)

// CutoffSink is told what the listener hears of token cutoffs (see
// auth.Revocations): that it listens, so every cutoff committed from now
// on will be heard; that it lost its connection, so some may not be; and
// each user whose cutoff changed.
type CutoffSink interface {
	Listening()
	Lost()
	Heard(userID string)
}

// ListenerConfig is what StartListener connects to and whom it tells.
type ListenerConfig struct {
	// URL is a PostgreSQL URL that keeps a session: not a transaction
	// pooler's.
	URL string
	// Events is the channel of the change feed's notifications, whose
	// payload is "<user id> <sequence>".
	Events string
	// Cutoffs, when set, is the channel of token cutoff changes, whose
	// payload is the user id; Sink is told of them.
	Cutoffs string
	Sink    CutoffSink
	Log     *slog.Logger
	// IdleAfter, when positive, closes the connection once no request has
	// come (Touch) for that long and no stream is open; the next request
	// opens it again.
	IdleAfter time.Duration
}

// errIdle ends a connection nobody needed for ListenerConfig.IdleAfter.
var errIdle = errors.New("closed after a quiet spell")

// Listener holds one PostgreSQL connection that LISTENs on the change
// feed's channel (and the token cutoffs') and wakes the hub's streams of
// each user a notification names. It needs a session of its own, so it
// connects past any transaction pooler (see app.Server). After every
// (re)connection it wakes every stream, which then reads what was
// committed while nobody listened.
//
// A listener that lost its connection reconnects with backoff while
// streams are open, or once something asks for it (Want: a request that
// found the token cache untrusted). It never reconnects on its own
// against a database that closed the connection while nobody used it:
// a database that suspends when idle (Neon) stays asleep. With IdleAfter
// it also closes its own connection after a quiet spell, so that an idle
// replica holds no session at all.
type Listener struct {
	cfg ListenerConfig
	hub *Hub

	cancel    context.CancelFunc
	done      chan struct{}
	listening chan struct{} // receives after each successful LISTEN
	wanted    chan struct{} // Want's signal, held until the next attempt
	lastUse   atomic.Int64  // when Touch was last called, Unix nanoseconds
}

// StartListener connects in the background and listens until Close,
// reconnecting as Listener says whenever the connection is lost.
func StartListener(cfg ListenerConfig, hub *Hub) *Listener {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{cfg: cfg, hub: hub, cancel: cancel, done: make(chan struct{}),
		listening: make(chan struct{}, 1), wanted: make(chan struct{}, 1)}
	l.Touch()
	go l.run(ctx)
	return l
}

// StartPolling is the listener's stand-in where no connection can keep
// a session (only a transaction pooler is reachable, and a LISTEN there
// hears nothing): it wakes every stream every interval, and each reads
// what was committed meanwhile. Each open stream then costs one query per
// interval, where a listener costs one per event; with no stream open it
// costs nothing.
func StartPolling(hub *Hub, every time.Duration) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{hub: hub, cancel: cancel, done: make(chan struct{}), listening: make(chan struct{}, 1),
		wanted: make(chan struct{}, 1)}
	go l.poll(ctx, every)
	return l
}

func (l *Listener) poll(ctx context.Context, every time.Duration) {
	defer close(l.done)
	l.listening <- struct{}{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			l.hub.WakeAll() // a hub without streams reads nothing
		}
	}
}

// Listening receives each time the listener has (re)connected and listens.
func (l *Listener) Listening() <-chan struct{} { return l.listening }

// Want asks a listener that lost its connection to reconnect (after its
// backoff). It never blocks, and costs nothing while connected.
func (l *Listener) Want() {
	select {
	case l.wanted <- struct{}{}:
	default:
	}
}

// Touch says a request has come: a connection is kept open for
// IdleAfter from now. It never blocks.
func (l *Listener) Touch() { l.lastUse.Store(time.Now().UnixNano()) }

// Close stops listening and waits for the connection to close.
func (l *Listener) Close() {
	l.cancel()
	<-l.done
}

func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := listenerBackoffFirst
	lost := false
	for ctx.Err() == nil {
		err := l.listen(ctx, func() {
			backoff = listenerBackoffFirst
			if lost {
				l.cfg.Log.Info("listening for change-feed events again")
			}
			lost = false
		})
		if l.cfg.Sink != nil {
			l.cfg.Sink.Lost()
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errIdle) {
			l.cfg.Log.Info("the change-feed listener closed its connection after a quiet spell; the next request opens it again",
				"idle_after", l.cfg.IdleAfter.String())
			lost = false
			backoff = listenerBackoffFirst
			if !l.awaitNeed(ctx, 0) {
				return
			}
			continue
		}
		if !lost {
			l.cfg.Log.Warn("the change-feed listener lost its database connection; it reconnects when a request or stream needs it",
				"error", err.Error())
		}
		lost = true
		if !l.awaitNeed(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, listenerBackoffLast)
	}
}

// awaitNeed waits out backoff, then until a stream is open or Want was
// called; false when ctx ends first.
func (l *Listener) awaitNeed(ctx context.Context, backoff time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(backoff):
	}
	for l.hub.Open() == 0 {
		select {
		case <-ctx.Done():
			return false
		case <-l.wanted:
			return true
		case <-time.After(listenerBackoffLast):
		}
	}
	return true
}

// listen connects, LISTENs and dispatches notifications until the
// connection fails; connected is called once it listens.
func (l *Listener) listen(ctx context.Context, connected func()) error {
	// Whatever asked for this attempt is served by it.
	select {
	case <-l.wanted:
	default:
	}
	cfg, err := pgx.ParseConfig(l.cfg.URL)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = ListenerName
	connectCtx, cancel := context.WithTimeout(ctx, listenerConnect)
	conn, err := pgpool.ConnectListener(connectCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	listen := "LISTEN " + pgx.Identifier{l.cfg.Events}.Sanitize()
	if l.cfg.Cutoffs != "" {
		listen += "; LISTEN " + pgx.Identifier{l.cfg.Cutoffs}.Sanitize()
	}
	if _, err := conn.Exec(ctx, listen); err != nil {
		return err
	}
	// What asked for a connection while this one was being made is served.
	select {
	case <-l.wanted:
	default:
	}
	connected()
	if l.cfg.Sink != nil {
		// From now on every cutoff committed is heard.
		l.cfg.Sink.Listening()
	}
	// Whatever was committed while nobody listened is read now.
	l.hub.WakeAll()
	select {
	case l.listening <- struct{}{}:
	default:
	}
	waitCtx, stopWaiting := context.WithCancelCause(ctx)
	defer stopWaiting(nil)
	if l.cfg.IdleAfter > 0 {
		go l.closeWhenIdle(waitCtx, stopWaiting)
	}
	for {
		n, err := conn.WaitForNotification(waitCtx)
		if err != nil {
			if cause := context.Cause(waitCtx); errors.Is(cause, errIdle) {
				return cause
			}
			return err
		}
		l.dispatch(n)
	}
}

// closeWhenIdle ends the wait (and so the connection) once no request has
// come for IdleAfter while no stream was open. Its timer runs in this
// process: it sends nothing anywhere.
func (l *Listener) closeWhenIdle(ctx context.Context, stop context.CancelCauseFunc) {
	for {
		quietUntil := time.Unix(0, l.lastUse.Load()).Add(l.cfg.IdleAfter)
		wait := time.Until(quietUntil)
		if wait <= 0 && l.hub.Open() == 0 {
			stop(errIdle)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(nextLook(wait)):
		}
	}
}

func (l *Listener) dispatch(n *pgconn.Notification) {
	if n.Channel == l.cfg.Cutoffs && l.cfg.Sink != nil {
		l.cfg.Sink.Heard(n.Payload)
		return
	}
	if userID, _, ok := strings.Cut(n.Payload, " "); ok {
		l.hub.Notify(userID)
	}
}

// nextLook is when closeWhenIdle looks again: at the end of the quiet
// spell, or, when it has ended but a stream is open, a while later.
func nextLook(untilQuiet time.Duration) time.Duration {
	if untilQuiet > 0 {
		return untilQuiet
	}
	return listenerBackoffLast
}
