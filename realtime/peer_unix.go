//go:build unix

package realtime

import (
	"net"
	"syscall"
)

// peerClosed reports whether the client closed conn (or reset it), without
// blocking: a read of the socket that returns 0 bytes is the peer's end of
// file. A client has nothing to send on a stream, so whatever it sent
// anyway is read and dropped, so that it cannot hide a later end of file.
// This is how a stream notices a closed tab before a ping fails to write. Connections without a socket (in-memory ones) report
// false: only a failed write ends them.
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [64]byte
	err = raw.Read(func(fd uintptr) bool {
		for {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_DONTWAIT)
			if n > 0 {
				continue // dropped
			}
			closed = (n == 0 && err == nil) || err == syscall.ECONNRESET
			return true // never wait for data
		}
	})
	return closed || err != nil
}
