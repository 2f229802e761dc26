package mib_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// walk returns every instance after start, GETNEXT by GETNEXT (one request each).
func walk(t *testing.T, h *mib.Handler, ctx string, start snmp.OID) []snmp.VarBind {
	t.Helper()
	var out []snmp.VarBind
	cur := start
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatalf("walk does not end")
		}
		vb, ok := h.Next(context.Background(), req(ctx), cur)
		if !ok {
			return out
		}
		if vb.OID.Compare(cur) <= 0 {
			t.Fatalf("Next(%v) = %v: not increasing", cur, vb.OID)
		}
		if !vb.OID.HasPrefix(mib.Root) {
			t.Fatalf("Next(%v) = %v: outside the module", cur, vb.OID)
		}
		if vb.Type == gosnmp.NoSuchInstance || vb.Type == gosnmp.NoSuchObject || vb.Type == gosnmp.EndOfMibView {
			t.Fatalf("Next(%v) returned exception %v", cur, vb.Type)
		}
		out = append(out, vb)
		cur = vb.OID
	}
}

// TestWalk walks every context and checks it against GET: every walked instance reads
// the same by GET, and every (column, row) a GET answers is in the walk.
func TestWalk(t *testing.T) {
	h := mib.NewHandler(fixture())
	rows := map[string]map[string]int{ // context -> table -> rows
		"": {"hypervisorTable": 2, "virtualMachinesTable": 3, "memoryTable": 3, "cpuTable": 4,
			"storageTable": 3, "diskImagesTable": 2, "networkTable": 2, "networkAddressTable": 2,
			"hbaTable": 2, "supportedOsTable": 2, "kernelTable": 1, "virtualMachineTemplateTable": 1,
			"replicaTable": 2},
		"kvm1": {"hypervisorTable": 2, "virtualMachinesTable": 2, "memoryTable": 2, "cpuTable": 3,
			"storageTable": 2, "diskImagesTable": 1, "networkTable": 1, "networkAddressTable": 2,
			"hbaTable": 2, "supportedOsTable": 2, "kernelTable": 1, "virtualMachineTemplateTable": 1},
		"kvm2": {"hypervisorTable": 2, "virtualMachinesTable": 1, "memoryTable": 1, "cpuTable": 1,
			"storageTable": 1, "diskImagesTable": 1, "networkTable": 1, "supportedOsTable": 1, "virtualMachineTemplateTable": 1},
	}
	for ctx, want := range rows {
		t.Run("context="+ctx, func(t *testing.T) {
			vbs := walk(t, h, ctx, snmp.OID{1})
			if again := walk(t, h, ctx, mib.Root); len(again) != len(vbs) {
				t.Errorf("walk from Root: %d instances, from .1: %d", len(again), len(vbs))
			}
			walked := map[string]snmp.VarBind{}
			for _, vb := range vbs {
				walked[vb.OID.String()] = vb
				got := h.Get(context.Background(), req(ctx), vb.OID)
				if got.Type != vb.Type || !mibtest.SameValue(got.Value, vb.Value) {
					t.Errorf("GET %v = %v %v, walk gave %v %v", vb.OID, got.Type, got.Value, vb.Type, vb.Value)
				}
			}
			for _, tb := range mib.Tables() {
				keys := rowKeys(tb, vbs)
				if len(keys) != want[tb.Name] {
					t.Errorf("%s: %d rows, want %d", tb.Name, len(keys), want[tb.Name])
				}
				for _, c := range tb.Columns {
					if c.Access == mib.NotAccessible {
						continue
					}
					for _, k := range keys {
						o := tb.Instance(c.Num, k...)
						vb := h.Get(context.Background(), req(ctx), o)
						_, in := walked[o.String()]
						if vb.Type != gosnmp.NoSuchInstance && !in {
							t.Errorf("%s %v: GET answers %v but the walk skipped it", c.Name, o, vb.Type)
						}
					}
				}
			}
			scalars := 5 // vmIndexNext, the two template scalars, storageIndexNext, vmNotificationsDropped
			if ctx != "" {
				scalars += 3 // vmmName, vmmVersion, vmmVersionString
			}
			if n := countScalars(vbs); n != scalars {
				t.Errorf("%d scalar instances, want %d", n, scalars)
			}
		})
	}
}

// rowKeys returns the distinct row indexes of tb among vbs.
func rowKeys(tb *mib.Table, vbs []snmp.VarBind) [][]uint32 {
	seen := map[string]bool{}
	var keys [][]uint32
	for _, vb := range vbs {
		if !vb.OID.HasPrefix(tb.Entry()) {
			continue
		}
		k := vb.OID[len(tb.Entry())+1:]
		if !seen[snmp.OID(k).String()] {
			seen[snmp.OID(k).String()] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func countScalars(vbs []snmp.VarBind) int {
	n := 0
	for _, vb := range vbs {
		for _, s := range mib.Scalars() {
			if vb.OID.Compare(s.Instance()) == 0 {
				n++
			}
		}
	}
	return n
}

func TestNext(t *testing.T) {
	h := mib.NewHandler(fixture())
	tests := []struct {
		name string
		ctx  string
		from snmp.OID
		want snmp.OID // nil: none
	}{
		{"merged starts at the hypervisor table", "", snmp.OID{1}, oid(t, "hypervisorName", 1)},
		{"host context starts at vmmName", "kvm1", mib.Root, oid(t, "vmmName", 0)},
		{"scalar to scalar", "kvm1", oid(t, "vmmName", 0), oid(t, "vmmVersion", 0)},
		{"scalar object without .0", "kvm1", oid(t, "vmmVersion"), oid(t, "vmmVersion", 0)},
		{"end of a column", "", oid(t, "hypervisorName", 2), oid(t, "hypervisorUri", 1)},
		{"table object", "", oid(t, "virtualMachinesTable"), oid(t, "vmUUID", 1)},
		{"longer than the index", "", oid(t, "vmName", 1, 5), oid(t, "vmName", 2)},
		{"shorter than the index", "", oid(t, "cpuArch", 1), oid(t, "cpuArch", 1, 1)},
		{"index past every row", "", oid(t, "vmName", 4294967295), oid(t, "vmOsIndex", 1)},
		{"between rows", "", oid(t, "vmName", 3), oid(t, "vmName", 5)},
		{"skips a stale counter", "", oid(t, "vmCpuMilliseconds", 1), oid(t, "vmCpuMilliseconds", 5)},
		{"skips stale counters of a sub-table", "", oid(t, "storageReadBytes", 1, 1), oid(t, "storageReadBytes", 5, 2)},
		{"skips to the next column", "", oid(t, "networkInOctets", 1, 1), oid(t, "networkInPackets", 1, 1)},
		{"counter column to the UUID text", "", oid(t, "vmCpuMilliseconds", 5), oid(t, "vmUUIDText", 1)},
		{"last table column to the next object", "", oid(t, "vmUUIDText", 5), oid(t, "memoryVmUUID", 1)},
		{"empty tables skipped", "kvm2", oid(t, "networkAddressTable"), oid(t, "osName", 2)},
		{"to the template scalars", "", oid(t, "kernelCmdline", 1), oid(t, "virtualMachineTemplate", 0)},
		{"last table to the last scalar", "", oid(t, "templateRowStatus", 1), oid(t, "storageIndexNext", 0)},
		{"storageIndexNext to the replicas", "", oid(t, "storageIndexNext", 0), oid(t, "replicaName", 1)},
		{"replica rows in index order", "", oid(t, "replicaName", 1), oid(t, "replicaName", 3)},
		{"replica column to column", "", oid(t, "replicaName", 3), oid(t, "replicaAddress", 1)},
		{"replicas to the notification count", "", oid(t, "replicaLastHeartbeat", 3), oid(t, "vmNotificationsDropped", 0)},
		{"last instance", "", oid(t, "vmNotificationsDropped", 0), nil},
		{"host context: no replicas", "kvm1", oid(t, "storageIndexNext", 0), oid(t, "vmNotificationsDropped", 0)},
		{"after the module", "", mib.Root.Append(4), nil},
		{"unknown context", "nosuch", snmp.OID{1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vb, ok := h.Next(context.Background(), req(tc.ctx), tc.from)
			switch {
			case tc.want == nil && ok:
				t.Errorf("Next(%v) = %v, want none", tc.from, vb.OID)
			case tc.want != nil && !ok:
				t.Errorf("Next(%v): none, want %v", tc.from, tc.want)
			case tc.want != nil && vb.OID.Compare(tc.want) != 0:
				t.Errorf("Next(%v) = %v, want %v", tc.from, vb.OID, tc.want)
			}
		})
	}
}

// TestOneSnapshotPerRequest: the varbinds of one PDU (one *snmp.Request) share one
// snapshot; each PDU takes a fresh one.
func TestOneSnapshotPerRequest(t *testing.T) {
	v := fixture()
	h := mib.NewHandler(v)
	r := req("")
	before := v.Reads()
	cur := snmp.OID{1}
	for range 50 {
		vb, ok := h.Next(context.Background(), r, cur)
		if !ok {
			t.Fatal("walk ended early")
		}
		cur = vb.OID
	}
	if n := v.Reads() - before; n != 1 {
		t.Errorf("one request took %d snapshots, want 1", n)
	}
	before = v.Reads()
	for range 5 {
		h.Get(context.Background(), req(""), oid(t, "vmName", 1))
	}
	if n := v.Reads() - before; n != 5 {
		t.Errorf("5 requests took %d snapshots, want 5", n)
	}
	// Many requests in progress at once (more than any fixed cache would hold), their
	// varbinds interleaved: still one snapshot each.
	reqs := make([]*snmp.Request, 100)
	curs := make([]snmp.OID, len(reqs))
	for i := range reqs {
		reqs[i], curs[i] = req(""), snmp.OID{1}
	}
	before = v.Reads()
	for range 10 {
		for i, r := range reqs {
			vb, ok := h.Next(context.Background(), r, curs[i])
			if !ok {
				t.Fatal("walk ended early")
			}
			curs[i] = vb.OID
		}
	}
	if n := v.Reads() - before; n != int64(len(reqs)) {
		t.Errorf("%d interleaved requests took %d snapshots, want %d", len(reqs), n, len(reqs))
	}
}

// TestConcurrentWalks runs walks in every context while the view changes.
func TestConcurrentWalks(t *testing.T) {
	v := fixture()
	h := mib.NewHandler(v)
	var wg sync.WaitGroup
	for _, ctx := range []string{"", "kvm1", "kvm2", "", "kvm1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				walk(t, h, ctx, snmp.OID{1})
			}
		}()
	}
	for i := range 50 {
		v.Set("kvm2", &mibtest.Data{IndexNext: uint32(i + 1), VMs: []mib.VMRow{{ID: uint32(i + 1), Name: "x"}}})
	}
	wg.Wait()
}

// TestWalkV1 walks for an SNMPv1 principal: the v2c walk without its Counter64
// instances, which the handler leaves out a column at a time.
func TestWalkV1(t *testing.T) {
	h := mib.NewHandler(fixture())
	for _, ctx := range []string{"", "kvm1", "kvm2"} {
		var want []snmp.OID
		for _, vb := range walk(t, h, ctx, snmp.OID{1}) {
			if vb.Type != gosnmp.Counter64 {
				want = append(want, vb.OID)
			}
		}
		var got []snmp.OID
		cur := snmp.OID{1}
		r := &snmp.Request{Context: ctx, Principal: snmp.Principal{Model: snmp.ModelV1}}
		for {
			vb, ok := h.Next(context.Background(), r, cur)
			if !ok {
				break
			}
			if vb.Type == gosnmp.Counter64 {
				t.Fatalf("context %q: v1 walk returned Counter64 %v", ctx, vb.OID)
			}
			got = append(got, vb.OID)
			cur = vb.OID
		}
		if len(got) != len(want) {
			t.Fatalf("context %q: v1 walk has %d instances, want %d", ctx, len(got), len(want))
		}
		for i := range got {
			if got[i].Compare(want[i]) != 0 {
				t.Fatalf("context %q: v1 walk #%d = %v, want %v", ctx, i, got[i], want[i])
			}
		}
	}
}
