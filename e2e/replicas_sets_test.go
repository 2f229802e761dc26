package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// Replicas changing one host with SETs (issue 9's scenarios), through the real binary
// and net-snmp's tools.

// sharedHost is the host of the SET scenarios: libvirt's test driver's default state
// through libvirtd, the one state every connection to it shares (a node file gives each
// connection a copy of its own), so that what one replica creates the other sees, and
// virsh too. Other tests may use it as well: these name their domains with a prefix of
// their own and look at nothing else.
const (
	sharedHost = "shared"
	sharedURI  = "test+unix:///default"
)

// replicaPair is two replicas, rep-a and rep-b, of a cluster on a three-member etcd,
// serving sharedHost, with one test-driver template (named prefix), the current one.
type replicaPair struct {
	c      *etcdtest.Cluster
	a, b   *Gateway
	prefix string // of the template and of every domain the test creates
}

// startReplicaPair starts the pair; timeout is registry.timeout.
func startReplicaPair(t *testing.T, timeout string) *replicaPair {
	t.Helper()
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING replica SET test: %v", err)
	}
	p := &replicaPair{c: etcdtest.Start(t), prefix: "rp" + randHex(t, 4)}
	tplDir := t.TempDir()
	tpl := `<domain type='test'><name>` + p.prefix + `</name><memory unit='MiB'>64</memory>` +
		`<vcpu current='1'>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`
	if err := os.WriteFile(filepath.Join(tplDir, p.prefix+".xml"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Users: []User{admin}, Hosts: []Host{{Name: sharedHost, URI: sharedURI}}, TemplatesDir: tplDir}
	bin := binary(t)
	p.a = Start(t, bin, replicaConfig(cfg, p.c, "/"+p.prefix+"/", "rep-a", timeout))
	p.b = Start(t, bin, replicaConfig(cfg, p.c, "/"+p.prefix+"/", "rep-b", timeout))
	// Registered after the gateways: runs before they stop, while their connections
	// keep the default state alive.
	t.Cleanup(func() {
		for _, n := range p.domains(t) {
			_, _ = virshAt(sharedURI, "destroy", n)
			_, _ = virshAt(sharedURI, "undefine", n)
		}
	})
	waitConnected(t, p.a, 60*time.Second)
	waitConnected(t, p.b, 60*time.Second)
	var idx uint32
	for _, v := range p.a.Walk(t, admin.Cred(""), inst(templateEntry, 2)) {
		if v.Value == p.prefix {
			idx = lastSub(t, v.OID)
		}
	}
	if idx == 0 {
		t.Fatalf("template %s not listed", p.prefix)
	}
	mustSucceed(t, p.a.Set(t, admin.Cred(""), vmTemplate, "u", strconv.Itoa(int(idx))))
	return p
}

// domains lists the domains of sharedHost whose name starts with the pair's prefix, by
// virsh (libvirt's own answer, not a replica's).
func (p *replicaPair) domains(t *testing.T) []string {
	t.Helper()
	out, err := virshAt(sharedURI, "-q", "list", "--all", "--name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range strings.Fields(out) {
		if strings.HasPrefix(n, p.prefix+"-") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// vms returns name -> vmId of the pair's domains that g shows in sharedHost's context;
// a name shown twice is an error.
func (p *replicaPair) vms(t *testing.T, g *Gateway) map[string]uint32 {
	t.Helper()
	seen := map[string]uint32{}
	for _, v := range g.Walk(t, admin.Cred(sharedHost), inst(vmEntry, colVmName), "-Cr50") {
		if !strings.HasPrefix(v.Value, p.prefix+"-") {
			continue
		}
		if id, dup := seen[v.Value]; dup {
			t.Fatalf("%s shows %s twice: vmIds %d and %d", g.Dir, v.Value, id, lastSub(t, v.OID))
		}
		seen[v.Value] = lastSub(t, v.OID)
	}
	return seen
}

// waitVMs waits until both replicas show exactly want (name -> vmId) of the pair's
// domains.
func (p *replicaPair) waitVMs(t *testing.T, want map[string]uint32) {
	t.Helper()
	for _, g := range []*Gateway{p.a, p.b} {
		pollUntil(t, 60*time.Second, "the created VMs in "+g.Dir, func() string {
			if got := p.vms(t, g); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Sprintf("shows %v, want %v", got, want)
			}
			return ""
		})
	}
}

// createArgs are snmpset's arguments for a createAndGo of vmId id named name, with
// retries every timeout seconds, as a manager sends it: a replica keeps at most
// workers/2 SETs waiting for the lock and leaves the others unanswered; a retry of one
// that ran is answered from the shared replay cache, not run again.
func createArgs(timeout string, id uint32, name string) []string {
	return []string{"-t", timeout, "-r", "15", inst(vmEntry, colVmRowStatus, id), "i", "4", inst(vmEntry, colVmName, id), "s", name}
}

var reasonRE = regexp.MustCompile(`Reason: (\w+)`)

// setStatus is the error status net-snmp printed for a SET, "noError" when it
// succeeded, the whole output when it printed none.
func setStatus(r Result) string {
	if r.Err == nil {
		return "noError"
	}
	if m := reasonRE.FindStringSubmatch(r.Output()); m != nil {
		return m[1]
	}
	return r.String()
}

// TestReplicasConcurrentCreates: 50 createAndGo at once, by 50 snmpset processes,
// half through each replica, on 4 vmIds and 5 names that collide: every VM is created
// once (virsh), no vmId and no name twice, both replicas show the same rows, and every
// loser is told inconsistentName or inconsistentValue.
func TestReplicasConcurrentCreates(t *testing.T) {
	p := startReplicaPair(t, "10s")
	base := uint32(mustUint(t, getVal(t, p.a, admin.Cred(""), vmIndexNext))) + 10
	type create struct {
		g      *Gateway
		id     uint32
		name   string
		status string
	}
	creates := make([]create, 50)
	var wg sync.WaitGroup
	for i := range creates {
		c := &creates[i]
		// SETs 2k and 2k+1 are the same create, one through each replica.
		c.g, c.id, c.name = p.a, base+uint32(i/2%4), fmt.Sprintf("%s-%d", p.prefix, i/2%5)
		if i%2 == 1 {
			c.g = p.b
		}
		wg.Go(func() {
			c.status = setStatus(c.g.Run(t, "snmpset", admin.Cred(sharedHost), createArgs("3", c.id, c.name)...))
		})
	}
	wg.Wait()
	won := map[string]uint32{}
	wonID := map[uint32]string{}
	for i, c := range creates {
		switch c.status {
		case "noError":
			if other, dup := wonID[c.id]; dup {
				t.Fatalf("SET %d: vmId %d created twice, as %s and %s", i, c.id, other, c.name)
			}
			if id, dup := won[c.name]; dup {
				t.Fatalf("SET %d: %s created twice, as vmIds %d and %d", i, c.name, id, c.id)
			}
			won[c.name], wonID[c.id] = c.id, c.name
		case "inconsistentName", "inconsistentValue":
		default:
			t.Fatalf("SET %d (vmId %d, %s through %s): %s; want noError, inconsistentName or inconsistentValue",
				i, c.id, c.name, c.g.Dir, c.status)
		}
	}
	if len(won) == 0 {
		t.Fatal("no SET succeeded")
	}
	var names []string
	for n := range won {
		names = append(names, n)
	}
	slices.Sort(names)
	if got := p.domains(t); !slices.Equal(got, names) {
		t.Fatalf("libvirt has %v, the SETs that succeeded created %v", got, names)
	}
	p.waitVMs(t, won)
}

// TestReplicasTemplateAcross: a template row created with snmpset through replica A
// is walked on B, chosen as the current template on B, and a VM created through A
// gets its memory.
func TestReplicasTemplateAcross(t *testing.T) {
	p := startReplicaPair(t, "10s")
	const idx = 4040
	name := p.prefix + "-tpl"
	mustSucceed(t, p.a.Set(t, admin.Cred(""),
		inst(templateEntry, colTplRowStatus, idx), "i", "4",
		inst(templateEntry, 2, idx), "s", name,
		inst(templateEntry, 3, idx), "u", "96",
		inst(templateEntry, 6, idx), "s", p.prefix+".xml"))
	pollUntil(t, 30*time.Second, "the template in B's walk", func() string {
		for _, v := range p.b.Walk(t, admin.Cred(""), inst(templateEntry, 2)) {
			if v.Value == name && lastSub(t, v.OID) == idx {
				return ""
			}
		}
		return "not listed"
	})
	if got := getVal(t, p.b, admin.Cred(""), inst(templateEntry, 3, idx)); got != "96" {
		t.Fatalf("templateMemoryMb.%d on B = %s, want 96", idx, got)
	}
	mustSucceed(t, p.b.Set(t, admin.Cred(""), vmTemplate, "u", strconv.Itoa(idx)))
	pollUntil(t, 30*time.Second, "B's choice on A", func() string {
		if got := getVal(t, p.a, admin.Cred(""), vmTemplate); got != strconv.Itoa(idx) {
			return "virtualMachineTemplate " + got
		}
		return ""
	})
	vm := p.prefix + "-from-tpl"
	id := createVM(t, p.a, admin.Cred(sharedHost), vm)
	if got := getVal(t, p.a, admin.Cred(sharedHost), inst(memoryEntry, colMemoryTotalMb, id)); got != "96" {
		t.Fatalf("memoryTotalMb of the VM created from the template = %s, want 96", got)
	}
	if info, err := virshAt(sharedURI, "dominfo", vm); err != nil || !strings.Contains(info, "98304 KiB") {
		t.Fatalf("virsh dominfo %s: %v\n%s", vm, err, info)
	}
	p.waitVMs(t, map[string]uint32{vm: id})
}

// TestReplicasEtcdQuorum: with one etcd member killed SETs go on (once the two left
// have a leader); with two (quorum
// lost) walks go on, a SET answers resourceUnavailable, a log line names etcd and
// nothing is half applied (no domain, vmIndexNext and the rows as they were); with
// quorum back the same SET works, the gateway not restarted.
func TestReplicasEtcdQuorum(t *testing.T) {
	p := startReplicaPair(t, "3s")
	cred := admin.Cred(sharedHost)
	p.c.Kill(0)
	// A SET in flight while the member that dies is etcd's leader may answer
	// resourceUnavailable (its proposal lost with the leader, registry.timeout passes);
	// once the others elected a leader SETs go on.
	p.c.WaitQuorum()
	first := p.prefix + "-one-down"
	id := createVM(t, p.a, cred, first)
	p.waitVMs(t, map[string]uint32{first: id})

	p.c.Kill(1)
	pid, off := p.a.PID(), p.a.LogLen()
	rows := p.a.Walk(t, cred, inst(vmEntry, colVmName))
	next := getVal(t, p.a, cred, vmIndexNext)
	nextID := uint32(mustUint(t, next))
	lost := p.prefix + "-no-quorum"
	if got := setStatus(p.a.Run(t, "snmpset", cred, createArgs("10", nextID, lost)...)); got != "resourceUnavailable" {
		t.Fatalf("createAndGo without quorum: %s, want resourceUnavailable", got)
	}
	p.a.WaitLog(t, off, "etcd", 10*time.Second)
	if got := p.domains(t); !slices.Equal(got, []string{first}) {
		t.Fatalf("domains without quorum: %v, want only %s", got, first)
	}
	if got := getVal(t, p.a, cred, vmIndexNext); got != next {
		t.Fatalf("vmIndexNext moved from %s to %s by a refused SET", next, got)
	}
	if got := p.a.Walk(t, cred, inst(vmEntry, colVmName)); fmtVars(got) != fmtVars(rows) {
		t.Fatalf("rows changed by a refused SET:\nbefore:\n%s\nafter:\n%s", fmtVars(rows), fmtVars(got))
	}

	p.c.Heal()
	pollUntil(t, 60*time.Second, "the SET with quorum back", func() string {
		return strings.TrimPrefix(setStatus(p.a.Run(t, "snmpset", cred, createArgs("10", nextID, lost)...)), "noError")
	})
	if p.a.PID() != pid {
		t.Fatal("the gateway restarted")
	}
	p.waitVMs(t, map[string]uint32{first: id, lost: nextID})
}

// TestTemplateIndexGrace: a destroyed template's index stays its name's for the
// registry's grace period, with the file registry and with etcd: a createAndGo of
// another name at that index answers inconsistentValue (in the TEST phase, not
// commitFailed), one of the same name gets it back.
func TestTemplateIndexGrace(t *testing.T) {
	backends := map[string]func(t *testing.T) *Gateway{
		"file": func(t *testing.T) *Gateway { t.Helper(); g, _ := controlGateway(t); return g },
		"etcd": func(t *testing.T) *Gateway { t.Helper(); return startReplicaPair(t, "10s").a },
	}
	for name, start := range backends {
		t.Run(name, func(t *testing.T) {
			g := start(t)
			cred := admin.Cred("")
			const idx = 4141
			create := func(tpl string) Result {
				return g.Set(t, cred, inst(templateEntry, colTplRowStatus, idx), "i", "4", inst(templateEntry, 2, idx), "s", tpl)
			}
			gone, other := randomName(t, "tpl-gone-"), randomName(t, "tpl-other-")
			mustSucceed(t, create(gone))
			mustSucceed(t, g.Set(t, cred, inst(templateEntry, colTplRowStatus, idx), "i", "6"))
			r := create(other)
			mustContain(t, r, "Reason: inconsistentValue")
			mustContain(t, r, "Failed object: "+inst(templateEntry, colTplRowStatus, idx))
			mustContain(t, g.Run(t, "snmpget", cred, inst(templateEntry, 2, idx)), "No Such Instance")
			mustSucceed(t, create(gone))
		})
	}
}
