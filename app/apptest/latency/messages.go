package latency

import "encoding/binary"

// StartupMessage is the key under which Messages counts the untyped
// messages that open a PostgreSQL connection (the startup packet, an
// SSL or GSS request, a cancel request): one per connection attempt.
const StartupMessage byte = 0

// protocolVersion3 is the code of a StartupMessage; after it the client's
// messages are typed.
const protocolVersion3 = 196608

// frontendParser splits what a client sends into PostgreSQL frontend
// messages, across chunks however they were cut.
type frontendParser struct {
	typed bool   // the startup packet has gone: each message has a type byte
	head  []byte // the current message's header read so far
	skip  int    // bytes of the current message's body still to come
}

// feed reads data and calls count with each message's type as its
// header completes.
func (f *frontendParser) feed(data []byte, count func(kind byte)) {
	for len(data) > 0 {
		if f.skip > 0 {
			n := min(f.skip, len(data))
			f.skip -= n
			data = data[n:]
			continue
		}
		size := 8 // length and code of an untyped message
		if f.typed {
			size = 5 // type and length
		}
		n := min(size-len(f.head), len(data))
		f.head = append(f.head, data[:n]...)
		data = data[n:]
		if len(f.head) < size {
			return
		}
		if f.typed {
			count(f.head[0])
			f.skip = max(int(binary.BigEndian.Uint32(f.head[1:5]))-4, 0)
		} else {
			count(StartupMessage)
			f.skip = max(int(binary.BigEndian.Uint32(f.head[0:4]))-8, 0)
			f.typed = binary.BigEndian.Uint32(f.head[4:8]) == protocolVersion3
		}
		f.head = f.head[:0]
	}
}
