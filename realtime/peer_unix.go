//go:build unix

package realtime

import (
	"net"
	"syscall"
)

// peerClosed reports whether the client closed conn (or reset it), without
// blocking and without consuming what it may have sent: a peek at the
// socket that returns 0 bytes means the peer's end of file. A stream has
// nothing to read, so this is how it notices a closed tab before a ping
// fails to write. Connections without a socket (in-memory ones) report
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
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || err == syscall.ECONNRESET
		return true // never wait for data
	})
	return closed || err != nil
}
