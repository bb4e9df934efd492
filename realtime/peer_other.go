//go:build !unix

package realtime

import "net"

// peerClosed cannot peek at a socket here: only a failed write notices a
// client that is gone.
func peerClosed(net.Conn) bool { return false }
