package realtime

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"taskflow/database/pgpool"
)

// ListenerName is the application_name of the listener's connection, so
// an operator (or a test) can tell it apart in pg_stat_activity.
const ListenerName = "taskflow-events-listener"

// Reconnection backoff of the listener.
const (
	listenerBackoffFirst = 100 * time.Millisecond
	listenerBackoffLast  = 5 * time.Second
	listenerConnect      = 10 * time.Second
)

// Listener holds one PostgreSQL connection that LISTENs on channel and
// wakes the hub's streams of each user a notification names. It needs a
// session of its own, so it connects past any transaction pooler (see
// app.Server). After every (re)connection it wakes every stream, which
// then reads what was committed while nobody listened.
type Listener struct {
	url     string
	channel string
	hub     *Hub
	log     *slog.Logger

	cancel    context.CancelFunc
	done      chan struct{}
	listening chan struct{} // receives after each successful LISTEN
}

// StartListener connects to url in the background and listens until
// Close, reconnecting with backoff whenever the connection is lost.
func StartListener(url, channel string, hub *Hub, log *slog.Logger) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{url: url, channel: channel, hub: hub, log: log, cancel: cancel,
		done: make(chan struct{}), listening: make(chan struct{}, 1)}
	go l.run(ctx)
	return l
}

// StartPolling is the listener's stand-in where no connection can keep
// a session (only a transaction pooler is reachable, and a LISTEN there
// hears nothing): it wakes every stream every interval, and each reads
// what was committed meanwhile. Each open stream then costs one query per
// interval, where a listener costs one per event.
func StartPolling(hub *Hub, every time.Duration) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{hub: hub, cancel: cancel, done: make(chan struct{}), listening: make(chan struct{}, 1)}
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
			l.hub.WakeAll()
		}
	}
}

// Listening receives each time the listener has (re)connected and listens.
func (l *Listener) Listening() <-chan struct{} { return l.listening }

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
				l.log.Info("listening for change-feed events again")
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !lost {
			l.log.Warn("the change-feed listener lost its database connection; reconnecting", "error", err.Error())
		}
		lost = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenerBackoffLast)
	}
}

// listen connects, LISTENs and dispatches notifications until the
// connection fails; connected is called once it listens.
func (l *Listener) listen(ctx context.Context, connected func()) error {
	cfg, err := pgx.ParseConfig(l.url)
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
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	// Whatever was committed while nobody listened is read now.
	l.hub.WakeAll()
	select {
	case l.listening <- struct{}{}:
	default:
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if userID, _, ok := strings.Cut(n.Payload, " "); ok {
			l.hub.Notify(userID)
		}
	}
}
