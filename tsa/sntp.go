package tsa

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// An SNTP client (RFC 4330 / RFC 5905 client mode) that measures the local clock against one
// server. It sends a random transmit timestamp instead of the local time (nothing about the
// local clock leaks) and accepts only the reply that echoes it.

const (
	ntpPacketLen  = 48
	ntpModeClient = 3
	ntpModeServer = 4
	ntpVersion    = 4
	ntpLeapAlarm  = 3 // leap indicator: server clock unsynchronised
)

// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpEpochOffset = 2208988800

// sntpSample is one measurement: offset is the local clock minus the server's clock at the
// moment (wall, mono) the reply arrived; uncertainty bounds the measurement error (half the
// round trip plus the server's root distance).
type sntpSample struct {
	server      string
	offset      time.Duration
	uncertainty time.Duration
	wall        time.Time
	mono        time.Duration
	stratum     int
}

// querySNTP measures the local clock against server ("host" or "host:port", port 123 by
// default). read returns the local wall clock and a monotonic reading taken together.
func querySNTP(ctx context.Context, server string, read func() (time.Time, time.Duration)) (sntpSample, error) {
	addr := server
	if _, _, err := net.SplitHostPort(server); err != nil {
		addr = net.JoinHostPort(server, "123")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return sntpSample{}, fmt.Errorf("NTP server %s: %w", server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}

	var req [ntpPacketLen]byte
	req[0] = ntpVersion<<3 | ntpModeClient
	if _, err := rand.Read(req[40:48]); err != nil {
		return sntpSample{}, fmt.Errorf("NTP request nonce: %w", err)
	}
	t1wall, t1mono := read()
	if _, err := conn.Write(req[:]); err != nil {
		return sntpSample{}, fmt.Errorf("NTP server %s: sending: %w", server, err)
	}
	var resp [ntpPacketLen + 1]byte
	for {
		n, err := conn.Read(resp[:])
		if err != nil {
			return sntpSample{}, fmt.Errorf("NTP server %s: no reply: %w", server, err)
		}
		t4wall, t4mono := read()
		if n != ntpPacketLen || string(resp[24:32]) != string(req[40:48]) {
			continue // not the answer to this request (stray, spoofed or extended packet)
		}
		return parseSNTPReply(server, resp[:ntpPacketLen], t1wall, t1mono, t4wall, t4mono)
	}
}

// parseSNTPReply validates a server reply and computes the sample.
func parseSNTPReply(server string, p []byte, t1wall time.Time, t1mono time.Duration, t4wall time.Time, t4mono time.Duration) (sntpSample, error) {
	leap, version, mode := p[0]>>6, p[0]>>3&7, p[0]&7
	stratum := int(p[1])
	switch {
	case mode != ntpModeServer:
		return sntpSample{}, fmt.Errorf("NTP server %s: reply mode %d, want %d", server, mode, ntpModeServer)
	case version < 3 || version > 4:
		return sntpSample{}, fmt.Errorf("NTP server %s: reply version %d", server, version)
	case stratum == 0:
		return sntpSample{}, fmt.Errorf("NTP server %s: kiss-o'-death %q", server, p[12:16])
	case stratum > 15:
		return sntpSample{}, fmt.Errorf("NTP server %s: stratum %d is unsynchronised", server, stratum)
	case leap == ntpLeapAlarm:
		return sntpSample{}, fmt.Errorf("NTP server %s: clock not synchronised (leap indicator 3)", server)
	}
	t2 := ntpTime(binary.BigEndian.Uint64(p[32:40]), t4wall)
	t3 := ntpTime(binary.BigEndian.Uint64(p[40:48]), t4wall)
	if binary.BigEndian.Uint64(p[40:48]) == 0 || t3.Before(t2) {
		return sntpSample{}, errors.New("NTP server " + server + ": invalid receive/transmit timestamps")
	}
	rootDelay := ntpShort(binary.BigEndian.Uint32(p[4:8]))
	rootDisp := ntpShort(binary.BigEndian.Uint32(p[8:12]))
	// The round trip is measured on the monotonic clock; the offset needs wall readings.
	delay := (t4mono - t1mono) - t3.Sub(t2)
	if delay < 0 {
		delay = 0
	}
	// θ = ((T2 − T1) + (T3 − T4)) / 2 is how far the server is ahead; offset is its negation.
	theta := (t2.Sub(t1wall) + t3.Sub(t4wall)) / 2
	return sntpSample{
		server:      server,
		offset:      -theta,
		uncertainty: delay/2 + rootDelay/2 + rootDisp,
		wall:        t4wall,
		mono:        t4mono,
		stratum:     stratum,
	}, nil
}

// ntpTime converts a 64-bit NTP timestamp to a time, choosing the 136-year era that puts it
// closest to near.
func ntpTime(ts uint64, near time.Time) time.Time {
	secs := int64(ts >> 32)
	frac := int64(ts & 0xffffffff)
	ns := frac * 1e9 >> 32
	const era = int64(1) << 32
	unix := secs - ntpEpochOffset
	for unix+era/2 < near.Unix() {
		unix += era
	}
	return time.Unix(unix, ns).UTC()
}

// ntpShort converts an NTP short-format (16.16) duration.
func ntpShort(v uint32) time.Duration {
	return time.Duration(int64(v) * int64(time.Second) >> 16)
}
