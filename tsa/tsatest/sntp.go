// Package tsatest holds what tests of the TSA and of the appliance around it share: a real
// SNTP server on loopback whose clock can be moved.
package tsatest

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// SNTPServer is a real SNTP (RFC 4330) server on 127.0.0.1 whose clock runs ahead of the
// local clock by a settable offset.
type SNTPServer struct {
	// Addr is host:port, for tsa.Options.NTPServers or PARAPHE_TSA_NTP_SERVERS.
	Addr string
	// Ahead is how many nanoseconds the server's clock is ahead of the local one.
	Ahead atomic.Int64
	// Leap is the leap indicator sent (3: clock not synchronised).
	Leap atomic.Int32
	// Queries counts the client requests answered.
	Queries atomic.Int64
}

const (
	packetLen   = 48
	modeClient  = 3
	modeServer  = 4
	epochOffset = 2208988800 // seconds from 1900 to 1970
)

// StartSNTPServer starts a server ahead of the local clock by ahead; it stops when the test
// ends.
func StartSNTPServer(t testing.TB, ahead time.Duration) *SNTPServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SNTPServer{Addr: pc.LocalAddr().String()}
	s.Ahead.Store(int64(ahead))
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			rx := time.Now().Add(time.Duration(s.Ahead.Load()))
			if n < packetLen || buf[0]&7 != modeClient {
				continue
			}
			s.Queries.Add(1)
			var resp [packetLen]byte
			resp[0] = byte(s.Leap.Load())<<6 | 4<<3 | modeServer
			resp[1] = 1 // stratum 1
			resp[2] = 6
			resp[3] = 0xec // precision 2^-20
			copy(resp[12:16], "GPS\x00")
			binary.BigEndian.PutUint64(resp[16:24], Timestamp(rx))
			copy(resp[24:32], buf[40:48]) // originate = the client's transmit time
			binary.BigEndian.PutUint64(resp[32:40], Timestamp(rx))
			binary.BigEndian.PutUint64(resp[40:48], Timestamp(time.Now().Add(time.Duration(s.Ahead.Load()))))
			pc.WriteTo(resp[:], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return s
}

// Timestamp is t as a 64-bit NTP timestamp.
func Timestamp(t time.Time) uint64 {
	secs := uint64(t.Unix()+epochOffset) & 0xffffffff
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
