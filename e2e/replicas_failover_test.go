package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// Replicas failing over and moving from a file registry (issue 9's scenarios), through
// the real binary and net-snmp's tools.

// replicaHosts returns n test-driver hosts rep-0.. of perHost domains each (a node file
// each: every connection reads the same domains) and the number of VMs.
func replicaHosts(t *testing.T, n, perHost int) ([]Host, int) {
	t.Helper()
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING replicas test: %v", err)
	}
	dir := t.TempDir()
	var hs []Host
	for h := range n {
		host, err := TestDriverHost(fmt.Sprintf("rep-%d", h), replicaNode(t, dir, h, perHost))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, host)
	}
	return hs, n * perHost
}

// replicaColumns are the configuration columns compared between replicas.
var replicaColumns = []string{"vmName", "vmUUID", "vmHost", "storageTargetDevice", "networkMacAddress"}

// walkColumns walks each of replicaColumns through g once it shows n VMs and returns
// them by column.
func walkColumns(t *testing.T, g *Gateway, n int) map[string]string {
	t.Helper()
	vmName := mustOID(t, "vmName")
	pollUntil(t, 2*time.Minute, fmt.Sprintf("%d VMs in %s", n, g.Dir), func() string {
		if got := len(g.Walk(t, admin.Cred(""), vmName, "-Cr50")); got != n {
			return fmt.Sprintf("%d VMs", got)
		}
		return ""
	})
	out := map[string]string{}
	for _, col := range replicaColumns {
		out[col] = fmtVars(g.Walk(t, admin.Cred(""), mustOID(t, col), "-Cr50"))
	}
	return out
}

// sameColumns fails the test unless two walkColumns are equal.
func sameColumns(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for _, col := range replicaColumns {
		if want[col] == "" || got[col] != want[col] {
			t.Fatalf("%s: %s differs:\nwant:\n%.2000s\ngot:\n%.2000s", what, col, want[col], got[col])
		}
	}
}

// TestReplicasFailoverWalk: a manager with two agents walks vmName through replica A
// page by page (GetBulk); A is killed (SIGKILL) in the middle; the manager goes on from
// the last OID it has through B, and the whole walk equals one of A taken before. A
// restarted serves the same walks again, and replicaTable (snmptable, through either)
// shows both replicas up.
func TestReplicasFailoverWalk(t *testing.T) {
	mibPath := mibDirs(t)
	hs, n := replicaHosts(t, 2, 30)
	c := etcdtest.Start(t)
	cfg := Config{Users: []User{admin}, Hosts: hs}
	a := Start(t, binary(t), replicaConfig(cfg, c, "/failover/", "rep-a", "10s"))
	b := Start(t, binary(t), replicaConfig(cfg, c, "/failover/", "rep-b", "10s"))
	before := walkColumns(t, a, n)
	sameColumns(t, "B before the failover", before, walkColumns(t, b, n))

	root := mustOID(t, "vmName")
	var walked []Var
	g, from, pages := a, root, 0
	for {
		r := g.Run(t, "snmpbulkget", admin.Cred(""), "-t", "1", "-Cn0", "-Cr10", from)
		if r.Err != nil {
			if g == b {
				t.Fatalf("B: %s", r)
			}
			g = b // A does not answer: the manager's other agent
			continue
		}
		vars := r.Vars()
		if len(vars) == 0 {
			t.Fatalf("empty GetBulk answer: %s", r)
		}
		done := false
		for _, v := range vars {
			if !strings.HasPrefix(v.OID, root+".") {
				done = true
				break
			}
			walked = append(walked, v)
		}
		if done {
			break
		}
		from = vars[len(vars)-1].OID
		if pages++; pages == 2 {
			a.Kill(t)
		}
	}
	if g != b {
		t.Fatal("the walk never went to B")
	}
	if got := fmtVars(walked); got != before["vmName"] {
		t.Fatalf("walk through A then B differs from A's before:\nbefore:\n%.2000s\nwalked:\n%.2000s", before["vmName"], got)
	}

	a.Start(t)
	sameColumns(t, "A restarted", before, walkColumns(t, a, n))
	for _, g := range []*Gateway{a, b} {
		pollUntil(t, 60*time.Second, "both replicas up in "+g.Dir+"'s replicaTable", func() string {
			rows := readTable(t, g, mibPath, admin.Cred(""), "replicaTable")
			var up []string
			for _, r := range rows {
				if r["replicaRegistryState"] == "1" {
					up = append(up, r["replicaName"])
				}
			}
			if len(rows) != 2 || len(up) != 2 {
				return fmt.Sprintf("rows %v", rows)
			}
			return ""
		})
	}
}

// TestReplicasFromFileRegistry: a gateway with the file registry numbers the VMs of
// two hosts (one added later, so that its VMs come second); its registry is exported
// with `vmgate registry export`, imported into etcd with `vmgate registry import`,
// and two replicas started on it show every VM, disk and NIC with the same indexes.
func TestReplicasFromFileRegistry(t *testing.T) {
	hs, n := replicaHosts(t, 2, 20)
	bin := binary(t)
	cfg := Config{Users: []User{admin}, Hosts: hs[1:]}
	file := Start(t, bin, cfg)
	walkColumns(t, file, n/2)
	file.Stop(t)
	cfg.Hosts = hs
	file.WriteConfig(t, cfg)
	file.Start(t)
	want := walkColumns(t, file, n)
	file.Stop(t)

	c := etcdtest.Start(t)
	dump := filepath.Join(t.TempDir(), "indexes.json")
	vmgate := func(config string, args ...string) {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--config", config, "registry"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("vmgate registry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	vmgate(file.ConfigPath, "export", dump)
	importDir := t.TempDir()
	data, err := replicaConfig(Config{Users: []User{admin}}, c, "/moved/", "import", "10s").
		render("udp:127.0.0.1:0", importDir)
	if err != nil {
		t.Fatal(err)
	}
	importCfg := filepath.Join(importDir, "vmgate.yaml")
	if err := os.WriteFile(importCfg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	vmgate(importCfg, "import", dump)

	a := Start(t, bin, replicaConfig(cfg, c, "/moved/", "rep-a", "10s"))
	b := Start(t, bin, replicaConfig(cfg, c, "/moved/", "rep-b", "10s"))
	sameColumns(t, "replica A after the import", want, walkColumns(t, a, n))
	sameColumns(t, "replica B after the import", want, walkColumns(t, b, n))
}
