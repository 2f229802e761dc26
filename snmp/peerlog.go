package snmp

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// peerLogInterval is the least time between two log lines of one reason caused by
// remote peers.
const peerLogInterval = time.Minute

// peerLog rate-limits the log lines that remote peers cause (wrong keys, refused
// connections...): per reason, the first line, then at most one per interval carrying
// how many it held back. A flood thus costs a few lines, while the counters of the
// MIBs keep counting every packet. A line held back is reported only with the next
// one of its reason.
type peerLog struct {
	log     *slog.Logger
	now     func() time.Time // tests move time
	mu      sync.Mutex
	reasons map[string]*peerReason
}

type peerReason struct {
	next       time.Time // no line before
	suppressed int
}

func newPeerLog(l *slog.Logger) *peerLog {
	return &peerLog{log: l, now: time.Now, reasons: map[string]*peerReason{}}
}

// Log logs msg at level unless a line of the same msg was logged less than
// peerLogInterval ago. msg is the reason: a constant, so that the reasons stay few.
func (l *peerLog) Log(level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.mu.Lock()
	r := l.reasons[msg]
	if r == nil {
		r = &peerReason{}
		l.reasons[msg] = r
	}
	now := l.now()
	if now.Before(r.next) {
		r.suppressed++
		l.mu.Unlock()
		return
	}
	n := r.suppressed
	r.next, r.suppressed = now.Add(peerLogInterval), 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
