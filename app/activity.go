package app

import (
	"sync/atomic"
	"time"
)

// activity is when the server last began an API request. What keeps the
// database company in the background (connections kept warm, pruning)
// does so only while requests come, so that a replica nobody uses sends
// its database nothing.
type activity struct{ last atomic.Int64 }

func newActivity() *activity {
	a := &activity{}
	a.Began()
	return a
}

// Began notes a request as it begins.
func (a *activity) Began() { a.last.Store(time.Now().UnixNano()) }

// LastRequest is when the last API request began (or the server started).
func (a *activity) LastRequest() time.Time { return time.Unix(0, a.last.Load()) }
