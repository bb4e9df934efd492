package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"taskflow/realtime"
)

// revocationChannel is the Redis pub/sub channel on which replicas tell
// each other of the token cutoffs they write, by user id.
const revocationChannel = "taskflow:cutoffs"

// Reconnection backoff of the Redis subscription, and how long a publish
// may hold the request that revoked.
const (
	feedBackoffFirst = 100 * time.Millisecond
	feedBackoffLast  = 5 * time.Second
	feedPublish      = time.Second
)

// revocationFeed carries token cutoffs between replicas through Redis
// where none can LISTEN to PostgreSQL (only a transaction pooler is
// reachable). Each replica subscribes; the one that writes a cutoff
// publishes it once committed. The cache trusts the feed only while
// subscribed: a lost subscription makes every lookup read the database
// until it is back. Redis is not the database: reconnecting to it on a
// timer wakes nothing that bills by the hour.
type revocationFeed struct {
	client *redis.Client
	sink   realtime.CutoffSink
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	// subscription is the one open, closed by Close: a Receive does not
	// end with its context.
	mu           sync.Mutex
	subscription *redis.PubSub
}

func startRevocationFeed(client *redis.Client, sink realtime.CutoffSink, log *slog.Logger) *revocationFeed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &revocationFeed{client: client, sink: sink, log: log, cancel: cancel, done: make(chan struct{})}
	go f.run(ctx)
	return f
}

// Publish tells every replica that userID's cutoff changed. A failure is
// logged: the replicas' subscriptions broke with Redis, so their caches
// are not trusted until they are back.
func (f *revocationFeed) Publish(userID string) {
	ctx, cancel := context.WithTimeout(context.Background(), feedPublish)
	defer cancel()
	if err := f.client.Publish(ctx, revocationChannel, userID).Err(); err != nil {
		f.log.Warn("cannot publish a token cutoff to the other replicas", "error", err.Error())
	}
}

// Close ends the subscription.
func (f *revocationFeed) Close() {
	f.cancel()
	f.mu.Lock()
	if f.subscription != nil {
		_ = f.subscription.Close()
	}
	f.mu.Unlock()
	<-f.done
}

func (f *revocationFeed) run(ctx context.Context) {
	defer close(f.done)
	backoff := feedBackoffFirst
	lost := false
	for ctx.Err() == nil {
		err := f.subscribe(ctx, func() {
			backoff = feedBackoffFirst
			if lost {
				f.log.Info("subscribed to token cutoffs again")
			}
			lost = false
		})
		f.sink.Lost()
		if ctx.Err() != nil {
			return
		}
		if !lost {
			f.log.Warn("the token cutoff subscription to Redis was lost; reconnecting", "error", err.Error())
		}
		lost = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, feedBackoffLast)
	}
}

// subscribe subscribes and passes on what it hears until the connection
// fails; subscribed is called once Redis confirmed the subscription.
func (f *revocationFeed) subscribe(ctx context.Context, subscribed func()) error {
	ps := f.client.Subscribe(ctx, revocationChannel)
	defer ps.Close()
	f.mu.Lock()
	f.subscription = ps
	f.mu.Unlock()
	if ctx.Err() != nil { // closed before the subscription was kept
		return ctx.Err()
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				subscribed()
				f.sink.Listening()
			}
		case *redis.Message:
			f.sink.Heard(m.Payload)
		}
	}
}
