package mibview_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// TestMIBConcurrentWalks walks vmName in the merged and two host contexts from
// several goroutines (25 varbinds per request, as GETBULK) while counters are swapped
// and inventories resynced: each walk must see every VM of its context exactly once,
// in order, and the race detector watches the flat vmId index, the counters
// generation and the handler's per-request snapshot cache.
func TestMIBConcurrentWalks(t *testing.T) {
	const nh, n = 3, 40
	v, hd := fleetMIB(t, nh, n)
	root := mib.VirtualMachinesTable.Entry().Append(mib.ColVmName)
	walk := func(ctxName string) (int, error) {
		cur, r, count := root, &snmp.Request{Context: ctxName}, 0
		for i := 0; ; i++ {
			if i%25 == 0 {
				r = &snmp.Request{Context: ctxName}
			}
			vb, ok := hd.Next(context.Background(), r, cur)
			if !ok || !vb.OID.HasPrefix(root) {
				return count, nil
			}
			if vb.OID.Compare(cur) <= 0 {
				return count, fmt.Errorf("%q: %s after %s", ctxName, vb.OID, cur)
			}
			cur, count = vb.OID, count+1
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	for h := range 2 {
		name := fmt.Sprintf("h%03d", h) // fleetMIB's host names
		writers.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				syncBenchHost(v, name, h*n, n) // new counters
				i := h*n + k%n                 // a changed record: a new vmid index tree
				v.DomainUpdated(name, hosts.Domain{UUID: hosts.UUID{0xbe, byte(i >> 16), byte(i >> 8), byte(i)},
					Name: fmt.Sprintf("vm%05d", i), ID: -1, State: hosts.StateShutoff, Persistent: true, OSType: "hvm"})
			}
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for _, c := range []struct {
		name string
		want int
	}{{"", nh * n}, {"h000", n}, {"h001", n}, {"", nh * n}} {
		wg.Go(func() {
			for range 30 {
				got, err := walk(c.name)
				if err == nil && got != c.want {
					err = fmt.Errorf("walk of %q: %d VMs, want %d", c.name, got, c.want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	stop()
	writers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
