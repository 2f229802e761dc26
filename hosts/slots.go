package hosts

import "context"

// OpenSlots bounds how many of the supervisors sharing it send ConnectOpen at once,
// once dialled (handshake included). Hosts served by one daemon (a gateway's start
// against the test driver, or any shared endpoint) otherwise queue all their opens
// there, and those still queued at connect_timeout are given up and opened again. The
// wait for a slot is not part of connect_timeout, and a dial holds no slot.
type OpenSlots struct{ c chan struct{} }

// NewOpenSlots returns room for n opens at once.
func NewOpenSlots(n int) *OpenSlots { return &OpenSlots{c: make(chan struct{}, max(1, n))} }

// WithOpenSlots has the supervisor take one of o's slots for each ConnectOpen it sends.
func WithOpenSlots(o *OpenSlots) Option { return func(s *Supervisor) { s.slots = o } }

// acquire waits for a slot; release gives it back. Without slots (nil) it never waits.
func (o *OpenSlots) acquire(ctx context.Context) (release func(), err error) {
	if o == nil {
		return func() {}, nil
	}
	select {
	case o.c <- struct{}{}:
		return func() { <-o.c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
