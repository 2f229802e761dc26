package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/mib"
)

// TestMergedView is the whole pipeline: two libvirt test-driver hosts through the local
// libvirtd, each VM served in its host's context and both in the merged context "",
// to v2c and v3 alike. It looks only for the VM names, not at the MIB's layout (the mib
// package's own tests do that).
func TestMergedView(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	cfg := baseConfig(t)
	second, err := TestDriverHost(hostCtx+"-b", filepath.Join("testdata", "node2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hosts = append(cfg.Hosts, second)
	g := Start(t, bin, cfg)
	root := mib.Root.String()
	if r := g.Run(t, "snmpgetnext", V2c("public"), root); !strings.HasPrefix(strings.TrimSpace(r.Stdout), root+".") {
		t.Fatalf("the gateway serves nothing under the VIRTUAL-MACHINES-MIB root %s: %s", root, r.Output())
	}
	cases := []struct {
		name      string
		cred      Cred
		want, not []string
	}{
		{"v2c merged", V2c("public"), []string{"e2e-vm-1", "e2e-vm-2"}, nil},
		{"v3 merged", admin.Cred(""), []string{"e2e-vm-1", "e2e-vm-2"}, nil},
		{"v3 host a", admin.Cred(hostCtx), []string{"e2e-vm-1"}, []string{"e2e-vm-2"}},
		{"v3 host b", admin.Cred(second.Name), []string{"e2e-vm-2"}, []string{"e2e-vm-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := waitForNames(t, g, c.cred, root, c.want...)
			for _, n := range c.not {
				if strings.Contains(out, `"`+n+`"`) {
					t.Fatalf("walk for %s shows %s from another host:\n%s", c.cred, n, out)
				}
			}
		})
	}
}

// waitForNames walks root until the output holds every name as a string value (hosts
// connect and sync in the background) and returns that output; it fails after 90 s.
func waitForNames(t *testing.T, g *Gateway, cred Cred, root string, names ...string) string {
	t.Helper()
	var out string
	pollUntil(t, 90*time.Second, "walk of "+root+" for "+cred.String(), func() string {
		r := g.Run(t, "snmpbulkwalk", cred, "-Cr25", root)
		mustSucceed(t, r)
		if out = r.Stdout; containsAll(out, names) {
			return ""
		}
		return fmt.Sprintf("lacks %v:\n%s", names, out)
	})
	return out
}

func containsAll(s string, names []string) bool {
	for _, n := range names {
		if !strings.Contains(s, `"`+n+`"`) {
			return false
		}
	}
	return true
}
