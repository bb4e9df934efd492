package app

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"taskflow/config"
)

// redisConnectTimeout bounds start-up's connection to Redis.
const redisConnectTimeout = 10 * time.Second

// OpenRedis connects to REDIS_URL (redis:// or rediss://), where replicas
// share their rate-limit and failed-login counters; the caller closes it.
// Without REDIS_URL it returns nil: each process counts in its own memory.
// Its errors never quote the URL, which may hold a password.
func OpenRedis(ctx context.Context, cfg config.Config) (*redis.Client, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL.Reveal())
	if err != nil {
		return nil, errors.New("REDIS_URL is not a valid redis:// URL")
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, redisConnectTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, errors.New("cannot connect to Redis (check REDIS_URL and that the server is reachable)")
	}
	return client, nil
}
