package pgpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"

	"github.com/jackc/pgx/v5"
)

// Cancel requests through a transaction pooler.
//
// pgx sends PostgreSQL a cancel request on a connection of its own
// whenever it gives up on a connection mid-statement: a request's deadline
// passed, the network failed, or the server ended the session (a restart,
// an outage). Through a transaction pooler the request is at best useless
// (the pooler forwards it only if the client is still linked to a server
// connection), and PgBouncer before 1.20 can crash on it: when the cancel
// connection closes before the pooler has forwarded it, PgBouncer frees
// the client twice and exits ("bad client state: 0"). A process that stops
// right after an outage, as on a deploy, does exactly that, and one
// pooler's crash takes every replica behind it down. So a pool whose
// statements go unprepared, which is the pool behind such a pooler, sends
// no cancel request: the connection is closed instead, which ends the
// statement too (the pooler drops its server connection when a client
// leaves mid-transaction).

// errCancelWithheld is what pgx's cancel request gets instead of a
// connection; pgx ignores it and closes the connection it was cancelling.
var errCancelWithheld = errors.New("cancel request not sent through a transaction pooler")

// sessionDial marks, in the context of a dial, that the dial opens a
// session: the pool's connector sets it. pgx's only other dial is a
// cancel request's, made with a context of its own.
type sessionDial struct{}

// withholdCancelRequests wraps cfg's dialer so that, while withhold says
// so, a dial that does not open a session (a cancel request's) fails
// before it reaches the network.
func withholdCancelRequests(cfg *pgx.ConnConfig, withhold func() bool) {
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ctx.Value(sessionDial{}) == nil && withhold() {
			return nil, errCancelWithheld
		}
		return dial(ctx, network, addr)
	}
}

// sessionConnector marks the dials of the connections it opens as
// session dials.
type sessionConnector struct{ driver.Connector }

func (c sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	return c.Connector.Connect(context.WithValue(ctx, sessionDial{}, true))
}

// keepsNamedStatements reports whether pgx's exec mode prepares named
// statements on the server, which only a direct connection or a pooler
// that carries them can hold. A URL that chooses any other mode says a
// transaction pooler is in front.
func keepsNamedStatements(mode pgx.QueryExecMode) bool {
	return mode == pgx.QueryExecModeCacheStatement
}

// ConnectListener opens the connection a LISTEN waits on. It never sends
// a cancel request: there is no statement to stop while it waits, and
// without DIRECT_DATABASE_URL it goes through whatever DATABASE_URL names,
// a pooler included.
func ConnectListener(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	withholdCancelRequests(cfg, func() bool { return true })
	return pgx.ConnectConfig(context.WithValue(ctx, sessionDial{}, true), cfg)
}
