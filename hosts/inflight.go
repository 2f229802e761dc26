package hosts

import (
	"sync"
	"sync/atomic"
)

// addrReadsInFlight bounds the domains an address round reads at once on a connection.
// Calls in flight together have their replies come back to back, several to a read of
// go-libvirt's buffered reader, and the caller and the reader hand over to each other
// without the runtime going idle between every call; libvirtd serves up to 5 calls of
// a client at once (max_client_requests) and queues the rest.
const addrReadsInFlight = 8

// inFlight runs fn(0) ... fn(n-1) on up to k goroutines (the caller's among them) and
// returns the first error; once one failed, no further fn starts.
func inFlight(n, k int, fn func(i int) error) error {
	if n <= 1 || k <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	work := func() {
		for {
			mu.Lock()
			failed := first != nil
			mu.Unlock()
			i := int(next.Add(1)) - 1
			if failed || i >= n {
				return
			}
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}
	}
	for range min(n, k) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return first
}
