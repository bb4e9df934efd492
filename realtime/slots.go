package realtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Lease timings: an open stream's lease is refreshed every LeaseRefresh
// and stops counting LeaseTTL after its last refresh, so the streams of a
// replica that died without releasing them free their places after
// LeaseTTL at most. A stream that ends normally releases its lease at once.
const (
	LeaseTTL     = 15 * time.Second
	LeaseRefresh = 5 * time.Second
	// leaseTimeout bounds each call to the lease store.
	leaseTimeout = 5 * time.Second
)

// Lease is one open stream's place in its user's limit.
type Lease struct {
	ID     string
	UserID string
}

// LeaseStore keeps leases where every replica counts them (the database,
// or Redis). Take records lease unless its user already holds limit live
// leases, and reports whether it did, in one step that concurrent takes on
// other replicas cannot interleave with.
type LeaseStore interface {
	Take(ctx context.Context, lease Lease, limit int) (bool, error)
	Refresh(ctx context.Context, leases []Lease) error
	Release(ctx context.Context, lease Lease) error
}

// Slots enforces MaxStreamsPerUser across replicas through a LeaseStore.
// It refreshes the leases it holds only while it holds some, so a replica
// with no open stream sends the store nothing.
type Slots struct {
	store LeaseStore
	log   *slog.Logger

	mu         sync.Mutex
	held       map[string]Lease
	refreshing bool
}

// NewSlots returns slots kept in store.
func NewSlots(store LeaseStore, log *slog.Logger) *Slots {
	return &Slots{store: store, log: log, held: map[string]Lease{}}
}

// Take reserves one of userID's places, or fails with ErrTooManyStreams.
// The caller calls release once the stream ends.
func (s *Slots) Take(ctx context.Context, userID string) (release func(), err error) {
	lease := Lease{ID: uuid.NewString(), UserID: userID}
	ctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	defer cancel()
	taken, err := s.store.Take(ctx, lease, MaxStreamsPerUser)
	if err != nil {
		return nil, err
	}
	if !taken {
		return nil, ErrTooManyStreams
	}
	s.hold(lease)
	var once sync.Once
	return func() { once.Do(func() { s.release(lease) }) }, nil
}

func (s *Slots) hold(lease Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[lease.ID] = lease
	if !s.refreshing {
		s.refreshing = true
		go s.refresh()
	}
}

func (s *Slots) release(lease Lease) {
	s.mu.Lock()
	delete(s.held, lease.ID)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	if err := s.store.Release(ctx, lease); err != nil {
		// The lease goes stale within LeaseTTL anyway.
		s.log.Warn("cannot release a change-feed stream's place; it frees when its lease goes stale",
			"error", err.Error(), "stale_after", LeaseTTL.String())
	}
}

// refresh keeps the held leases live, and returns once none is held.
func (s *Slots) refresh() {
	ticker := time.NewTicker(LeaseRefresh)
	defer ticker.Stop()
	for range ticker.C {
		leases := s.heldOrStop()
		if leases == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		if err := s.store.Refresh(ctx, leases); err != nil {
			s.log.Warn("cannot refresh the change feed's stream leases", "error", err.Error())
		}
		cancel()
	}
}

// heldOrStop returns the held leases, or nil (and marks the refresher
// stopped) when there are none.
func (s *Slots) heldOrStop() []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) == 0 {
		s.refreshing = false
		return nil
	}
	leases := make([]Lease, 0, len(s.held))
	for _, l := range s.held {
		leases = append(leases, l)
	}
	return leases
}
