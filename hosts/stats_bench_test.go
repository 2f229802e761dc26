package hosts

import (
	"fmt"
	"testing"

	"github.com/digitalocean/go-libvirt"
)

// qemuStatsParams are the typed parameters libvirt 9.0's QEMU driver gives one running
// domain with 2 vCPUs, 1 NIC and 2 disks (the field names of `virsh domstats`).
func qemuStatsParams() []libvirt.TypedParam {
	var ps []libvirt.TypedParam
	add := func(field string, v any) {
		ps = append(ps, libvirt.TypedParam{Field: field, Value: libvirt.TypedParamValue{I: v}})
	}
	add("state.state", int32(1))
	add("state.reason", int32(1))
	add("cpu.time", uint64(123456789))
	add("cpu.user", uint64(1234567))
	add("cpu.system", uint64(7654321))
	for _, f := range []string{"current", "maximum", "swap_in", "swap_out", "major_fault", "minor_fault",
		"unused", "available", "usable", "last-update", "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail", "rss"} {
		add("balloon."+f, uint64(1048576))
	}
	add("vcpu.current", uint32(2))
	add("vcpu.maximum", uint32(2))
	for i := range 2 {
		add(fmt.Sprintf("vcpu.%d.state", i), int32(1))
		add(fmt.Sprintf("vcpu.%d.time", i), uint64(5000000))
		add(fmt.Sprintf("vcpu.%d.wait", i), uint64(0))
		add(fmt.Sprintf("vcpu.%d.delay", i), uint64(0))
	}
	add("net.count", uint32(1))
	add("net.0.name", "vnet0")
	for _, f := range []string{"rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop"} {
		add("net.0."+f, uint64(4096))
	}
	add("block.count", uint32(2))
	for i := range 2 {
		add(fmt.Sprintf("block.%d.name", i), fmt.Sprintf("vd%c", 'a'+i))
		add(fmt.Sprintf("block.%d.path", i), fmt.Sprintf("/var/lib/libvirt/images/d%d.qcow2", i))
		for _, f := range []string{"backingIndex", "rd.reqs", "rd.bytes", "rd.times", "wr.reqs", "wr.bytes",
			"wr.times", "fl.reqs", "fl.times", "allocation", "capacity", "physical"} {
			add(fmt.Sprintf("block.%d.%s", i, f), uint64(65536))
		}
	}
	return ps
}

// BenchmarkParseDomainStats: the gateway's share of a stats poll per QEMU domain, on
// top of go-libvirt's decoding.
func BenchmarkParseDomainStats(b *testing.B) {
	ps := qemuStatsParams()
	var p statsParser
	b.ReportAllocs()
	for b.Loop() {
		_ = parseDomainStats(&p, UUID{1}, ps)
		p.allVCPUs, p.allBlocks, p.allNets = p.allVCPUs[:0], p.allBlocks[:0], p.allNets[:0] // grown once per reply
	}
}

// TestParseQEMUStats: every field the MIB serves is read from a QEMU domain's record.
func TestParseQEMUStats(t *testing.T) {
	ds := parseDomainStats(new(statsParser), UUID{1}, qemuStatsParams())
	if ds.State != StateRunning || ds.CPUTimeNs == 0 || ds.CPUUserNs == 0 || ds.CPUSystemNs == 0 {
		t.Errorf("state or cpu: %+v", ds)
	}
	for name, v := range map[string]uint64{"current": ds.BalloonCurrentKiB, "maximum": ds.BalloonMaximumKiB,
		"rss": ds.BalloonRSSKiB, "unused": ds.BalloonUnusedKiB, "available": ds.BalloonAvailableKiB, "usable": ds.BalloonUsableKiB} {
		if v == 0 {
			t.Errorf("balloon.%s not read", name)
		}
	}
	if len(ds.VCPUs) != 2 || ds.VCPUs[1].Number != 1 || ds.VCPUs[1].TimeNs == 0 || ds.VCPUs[1].State != 1 {
		t.Errorf("vcpus: %+v", ds.VCPUs)
	}
	if len(ds.Nets) != 1 || ds.Nets[0] != (NetStats{Name: "vnet0", RxBytes: 4096, RxPkts: 4096, RxErrs: 4096, RxDrop: 4096,
		TxBytes: 4096, TxPkts: 4096, TxErrs: 4096, TxDrop: 4096}) {
		t.Errorf("nets: %+v", ds.Nets)
	}
	const n = 65536
	want := BlockStats{Name: "vdb", Path: "/var/lib/libvirt/images/d1.qcow2", RdReqs: n, RdBytes: n, WrReqs: n, WrBytes: n,
		RdTimesNs: n, WrTimesNs: n, Capacity: n, Allocation: n, Physical: n}
	if len(ds.Blocks) != 2 || ds.Blocks[1] != want {
		t.Errorf("blocks: %+v, want the second %+v", ds.Blocks, want)
	}
}
