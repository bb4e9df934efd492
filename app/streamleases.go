package app

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"taskflow/database"
	"taskflow/models"
	"taskflow/realtime"
)

// streamLeases is where the change feed's per-user limit is counted, by
// every replica alike: Redis when REDIS_URL is set, else the database.
func streamLeases(d Deps) realtime.LeaseStore {
	if d.Redis != nil {
		return redisLeases{client: d.Redis}
	}
	return dbLeases{leases: database.NewStreamLeases(d.DB), replica: uuid.NewString()}
}

// dbLeases keeps leases as rows (database.StreamLeases), refreshed in one
// statement per replica.
type dbLeases struct {
	leases  *database.StreamLeases
	replica string
}

func (l dbLeases) Take(ctx context.Context, lease realtime.Lease, limit int) (bool, error) {
	now := time.Now()
	return l.leases.Take(ctx, lease.ID, lease.UserID, l.replica, limit, now, now.Add(-realtime.LeaseTTL))
}

func (l dbLeases) Refresh(ctx context.Context, _ []realtime.Lease) error {
	return l.leases.Refresh(ctx, l.replica, time.Now())
}

func (l dbLeases) Release(ctx context.Context, lease realtime.Lease) error {
	return l.leases.Release(ctx, lease.ID)
}

// redisLeases keeps a user's leases in a sorted set scored by when each
// goes stale; the set itself expires with its last lease.
type redisLeases struct{ client *redis.Client }

func streamLeaseKey(userID string) string { return "taskflow:stream_leases:" + userID }

// takeLease drops the user's stale leases and adds ARGV[1] (going stale at
// ARGV[3], in ms) unless ARGV[2] live ones remain: one script, so takes on
// two replicas cannot both see room for one.
var takeLease = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`)

func (l redisLeases) Take(ctx context.Context, lease realtime.Lease, limit int) (bool, error) {
	now := time.Now()
	taken, err := takeLease.Run(ctx, l.client, []string{streamLeaseKey(lease.UserID)},
		lease.ID, limit, now.Add(realtime.LeaseTTL).UnixMilli(), now.UnixMilli(), realtime.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return false, models.Unavailable(err)
	}
	return taken == 1, nil
}

func (l redisLeases) Refresh(ctx context.Context, leases []realtime.Lease) error {
	staleAt := time.Now().Add(realtime.LeaseTTL)
	_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, lease := range leases {
			key := streamLeaseKey(lease.UserID)
			p.ZAddXX(ctx, key, redis.Z{Score: float64(staleAt.UnixMilli()), Member: lease.ID})
			p.PExpire(ctx, key, realtime.LeaseTTL)
		}
		return nil
	})
	return err
}

func (l redisLeases) Release(ctx context.Context, lease realtime.Lease) error {
	return l.client.ZRem(ctx, streamLeaseKey(lease.UserID), lease.ID).Err()
}
