package e2e

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmgate/vmgate/mib"
)

// TestConcurrentManagers: 16 managers walk the whole tree at once over v2c and v3 in
// both contexts (the binary runs under the race detector with -race); every walk
// completes and sees the same OIDs as a lone walk of its kind.
func TestConcurrentManagers(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	if LibvirtMissing() == nil {
		// Let the host sync first, so the tree does not grow between walks.
		waitForNames(t, g, admin.Cred(hostCtx), mib.Root.String(), "e2e-vm-1")
	}
	creds := []Cred{V2c("public"), admin.Cred(""), admin.Cred(hostCtx), reader.Cred("")}
	want := make(map[string][]string)
	for _, c := range creds {
		want[c.String()] = oidsOf(g.Walk(t, c, ".1"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		c := creds[i%len(creds)]
		wg.Go(func() {
			r := g.Run(t, "snmpbulkwalk", c, "-Cr10", ".1")
			if r.Err != nil {
				errs <- fmt.Errorf("walk %d %s: %s", i, c, r)
				return
			}
			got := oidsOf(r.WalkVars())
			if fmt.Sprint(got) != fmt.Sprint(want[c.String()]) {
				errs <- fmt.Errorf("walk %d %s: %d OIDs, lone walk had %d", i, c, len(got), len(want[c.String()]))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func oidsOf(vars []Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.OID
	}
	return out
}
