package authtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/latency"
)

// revocationDelivery is one way a deployment's replicas hear of cutoffs
// written on another: it starts two replicas on db.
type revocationDelivery struct {
	name  string
	start func(t *testing.T, db apptest.Database) (first, second *apptest.Server)
	// logged is what the second replica's log must say, naming the way.
	logged string
}

func throughPgBouncer(t *testing.T, db apptest.Database) apptest.Database {
	t.Helper()
	target, err := latency.TargetOf(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	bouncer := apptest.StartPgBouncer(t, target, apptest.PgBouncerOptions{})
	return apptest.Database{Name: db.Name, URL: bouncer.URL(t, db.URL)}
}

var revocationDeliveries = []revocationDelivery{
	{
		name: "PostgreSQL LISTEN",
		start: func(t *testing.T, db apptest.Database) (*apptest.Server, *apptest.Server) {
			return apptest.Start(t, db, highLimit), apptest.Start(t, db, highLimit)
		},
	},
	{
		name: "checks driven by requests, through PgBouncer",
		start: func(t *testing.T, db apptest.Database) (*apptest.Server, *apptest.Server) {
			pooled := throughPgBouncer(t, db)
			return apptest.Start(t, pooled, highLimit), apptest.Start(t, pooled, highLimit)
		},
		logged: "transaction pooler",
	},
	{
		name: "Redis pub/sub, through PgBouncer",
		start: func(t *testing.T, db apptest.Database) (*apptest.Server, *apptest.Server) {
			pooled := throughPgBouncer(t, db)
			redis := testRedis(t)
			return apptest.StartWithRedis(t, pooled, highLimit, redis), apptest.StartWithRedis(t, pooled, highLimit, redis)
		},
		logged: "transaction pooler",
	},
}

// TestRevocationReachesTheOtherReplica: with nothing polling on a timer,
// a logout-all on one replica is honoured by another that had the user
// cached within the contract's second, whichever way the deployment
// carries cutoffs between replicas.
func TestRevocationReachesTheOtherReplica(t *testing.T) {
	for _, way := range revocationDeliveries {
		t.Run(way.name, func(t *testing.T) {
			db := apptest.Postgres(t)
			first, second := way.start(t, db)
			if way.logged != "" && !strings.Contains(second.Logs(), way.logged) {
				t.Fatalf("the replica does not say it runs behind a %s: %s", way.logged, second.Logs())
			}
			for range 3 {
				api := newAuthAPI(t, first)
				session := api.register(t, "delivered-"+randomSuffix(t)+"@example.com", api.usePassword("correct horse battery"))
				requireGuardedCallsWork(t, first, session.AccessToken)
				requireGuardedCallsWork(t, second, session.AccessToken)
				// The second replica is left alone for a while, as a quiet
				// one would be: whatever it trusts must still be true.
				time.Sleep(1500 * time.Millisecond)
				requireGuardedCallsWork(t, second, session.AccessToken)
				apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: session.AccessToken}), 204)
				requireRevokedWithin(t, second, session.AccessToken, time.Now())
			}
		})
	}
}

// TestRedisCarriesRevocations: behind a transaction pooler with Redis,
// each replica subscribes to the cutoffs' channel.
func TestRedisCarriesRevocations(t *testing.T) {
	db := throughPgBouncer(t, apptest.Postgres(t))
	redis := testRedis(t)
	ctx := context.Background()
	before, err := redis.PubSubNumSub(ctx, "taskflow:cutoffs").Result()
	if err != nil {
		t.Fatal(err)
	}
	apptest.StartWithRedis(t, db, highLimit, redis)
	apptest.StartWithRedis(t, db, highLimit, redis)
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := redis.PubSubNumSub(ctx, "taskflow:cutoffs").Result()
		if err != nil {
			t.Fatal(err)
		}
		if after["taskflow:cutoffs"] >= before["taskflow:cutoffs"]+2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers of taskflow:cutoffs: %d before two replicas started, %d after", before["taskflow:cutoffs"], after["taskflow:cutoffs"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
