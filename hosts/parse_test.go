package hosts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustUUID(t *testing.T, s string) UUID {
	t.Helper()
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestParseDomainXML(t *testing.T) {
	tests := []struct {
		file string
		want Domain
	}{
		{file: "domain-full.xml", want: Domain{
			UUID: mustUUID(t, "8f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8"), Name: "web-01", ID: -1,
			MemoryKiB: 4 << 20, CurrentMemoryKiB: 2097152, VCPUs: 2, MaxVCPUs: 4,
			DomainType: "kvm", OSType: "hvm", Arch: "x86_64", Machine: "pc-q35-7.2",
			Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img", Cmdline: "console=ttyS0 root=/dev/vda1",
			OSInfoID: "http://debian.org/debian/12", FixedVCPUs: true,
			Disks: []Disk{
				{Device: "disk", Type: "file", Bus: "virtio", Target: "vda", Source: "/var/lib/libvirt/images/web-01.qcow2", Format: "qcow2"},
				{Device: "disk", Type: "volume", Bus: "virtio", Target: "vdb", Source: "data/web-01-data", Pool: "data", Volume: "web-01-data", Format: "raw"},
				{Device: "lun", Type: "block", Bus: "scsi", Target: "sda", Source: "/dev/sdz"},
				{Device: "cdrom", Type: "file", Bus: "sata", Target: "sdb", Format: "raw", ReadOnly: true},
			},
			NICs: []NIC{
				{MAC: "52:54:00:ab:cd:ef", Type: "network", Source: "default", Model: "virtio", Target: "vnet3"},
				{MAC: "52:54:00:00:00:02", Type: "bridge", Source: "br0", Model: "e1000"},
				{MAC: "52:54:00:00:00:03", Type: "direct", Source: "eth1"},
			},
			Controllers: []Controller{{Type: "pci", Model: "pcie-root"}, {Type: "usb", Model: "qemu-xhci"}, {Type: "scsi", Model: "virtio-scsi", Index: 1}},
		}},
		{file: "domain-minimal.xml", want: Domain{
			UUID: mustUUID(t, "00000000-0000-0000-0000-000000000001"), Name: "tiny", ID: -1,
			MemoryKiB: 65536, CurrentMemoryKiB: 65536, VCPUs: 1, MaxVCPUs: 1, DomainType: "test", OSType: "hvm",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseDomainXML(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDomainXMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not xml", "<domain", "domain xml"},
		{"bad uuid", "<domain><name>x</name><uuid>zz</uuid></domain>", "uuid"},
		{"bad memory", "<domain><uuid>00000000000000000000000000000001</uuid><memory>-1</memory></domain>", "memory"},
		{"bad unit", "<domain><uuid>00000000000000000000000000000001</uuid><memory unit='parsec'>1</memory></domain>", "unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDomainXML(tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestMemoryUnits(t *testing.T) {
	tests := []struct {
		unit, val string
		kib       uint64
	}{
		{"", "1024", 1024}, {"KiB", "1", 1}, {"M", "2", 2048}, {"GiB", "1", 1 << 20},
		{"b", "2048", 2}, {"bytes", "4096", 4}, {"KB", "1024", 1000}, {"MB", "1", 976}, {"T", "1", 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.unit+tt.val, func(t *testing.T) {
			got, err := kib(memXML{Unit: tt.unit, Value: tt.val})
			if err != nil || got != tt.kib {
				t.Fatalf("kib(%s %s) = %d, %v; want %d", tt.val, tt.unit, got, err, tt.kib)
			}
		})
	}
}

func TestParseStorageXML(t *testing.T) {
	p, err := ParsePoolXML(readFixture(t, "pool.xml"))
	if err != nil {
		t.Fatal(err)
	}
	wantPool := Pool{Name: "images", UUID: mustUUID(t, "35bb2ad9-388a-cdfe-461a-b8907f6e53fe"), Type: "dir",
		Path: "/var/lib/libvirt/images", Capacity: 107374182400, Allocation: 1073741824, Available: 106300440576}
	if p != wantPool {
		t.Errorf("pool %+v, want %+v", p, wantPool)
	}
	v, err := ParseVolumeXML("images", readFixture(t, "volume.xml"))
	if err != nil {
		t.Fatal(err)
	}
	wantVol := Volume{Pool: "images", Name: "web-01.qcow2", Key: "/var/lib/libvirt/images/web-01.qcow2",
		Path: "/var/lib/libvirt/images/web-01.qcow2", Format: "qcow2", Capacity: 20 << 30, Allocation: 196608}
	if v != wantVol {
		t.Errorf("volume %+v, want %+v", v, wantVol)
	}
}

func tp(field string, v any) libvirt.TypedParam {
	return libvirt.TypedParam{Field: field, Value: libvirt.TypedParamValue{I: v}}
}

func TestParseDomainStats(t *testing.T) {
	id := UUID{1}
	tests := []struct {
		name   string
		params []libvirt.TypedParam
		want   DomainStats
	}{
		{name: "inactive", params: []libvirt.TypedParam{tp("state.state", int32(5)), tp("state.reason", int32(1))},
			want: DomainStats{UUID: id, State: StateShutoff, Reason: 1}},
		{name: "inactive with libvirtd's own cpu time", params: []libvirt.TypedParam{
			tp("state.state", int32(5)), tp("state.reason", int32(2)),
			tp("cpu.time", uint64(290000000)), tp("cpu.user", uint64(140000000)), tp("cpu.system", uint64(150000000)),
			tp("balloon.current", uint64(65536)), tp("balloon.maximum", uint64(65536)),
			tp("vcpu.current", uint32(1)), tp("vcpu.0.time", uint64(5)),
			tp("block.count", uint32(1)), tp("block.0.name", "vda"), tp("block.0.rd.reqs", uint64(3)),
			tp("block.0.capacity", uint64(1<<20)), tp("block.0.allocation", uint64(4096)),
		}, want: DomainStats{UUID: id, State: StateShutoff, Reason: 2, HasBalloon: true,
			BalloonCurrentKiB: 65536, BalloonMaximumKiB: 65536,
			Blocks: []BlockStats{{Name: "vda", Capacity: 1 << 20, Allocation: 4096}}}},
		{name: "running full", params: []libvirt.TypedParam{
			tp("state.state", int32(1)), tp("state.reason", int32(1)),
			tp("cpu.time", uint64(123456789)), tp("cpu.user", uint64(100)), tp("cpu.system", uint64(200)),
			tp("balloon.current", uint64(65536)), tp("balloon.maximum", uint64(131072)), tp("balloon.rss", uint64(40000)),
			tp("vcpu.current", uint32(2)), tp("vcpu.maximum", uint32(2)),
			tp("vcpu.0.state", int32(1)), tp("vcpu.0.time", uint64(10)), tp("vcpu.1.state", int32(1)), tp("vcpu.1.time", uint64(20)),
			tp("net.count", uint32(1)), tp("net.0.name", "vnet0"), tp("net.0.rx.bytes", uint64(1000)), tp("net.0.tx.pkts", uint64(7)),
			tp("block.count", uint32(2)), tp("block.0.name", "vda"), tp("block.0.path", "/img/a.qcow2"),
			tp("block.0.rd.reqs", uint64(3)), tp("block.0.rd.bytes", uint64(4096)), tp("block.0.wr.bytes", uint64(512)),
			tp("block.0.errors", int64(-1)), tp("block.0.capacity", uint64(1<<30)),
			tp("block.1.name", "sdb"), tp("block.future.thing", uint64(9)), tp("brandnew.group", "x"),
		}, want: DomainStats{UUID: id, State: StateRunning, Reason: 1, CPUTimeNs: 123456789, CPUUserNs: 100, CPUSystemNs: 200,
			HasBalloon: true, BalloonCurrentKiB: 65536, BalloonMaximumKiB: 131072, BalloonRSSKiB: 40000,
			VCPUs:  []VCPUStats{{Number: 0, State: 1, TimeNs: 10}, {Number: 1, State: 1, TimeNs: 20}},
			Nets:   []NetStats{{Name: "vnet0", RxBytes: 1000, TxPkts: 7}},
			Blocks: []BlockStats{{Name: "vda", Path: "/img/a.qcow2", RdReqs: 3, RdBytes: 4096, WrBytes: 512, Capacity: 1 << 30}, {Name: "sdb"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseDomainStats(new(statsParser), id, tt.params)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100, max: 1000}
	wantCaps := []int64{100, 200, 400, 800, 1000, 1000}
	for i, c := range wantCaps {
		d := b.next()
		if int64(d) < c/2 || int64(d) > c {
			t.Fatalf("step %d: %d not in [%d, %d]", i, d, c/2, c)
		}
	}
	b.reset()
	if d := b.next(); d > 100 {
		t.Fatalf("after reset: %d", d)
	}
}

// TestFixedVCPUs: a running QEMU domain can lose a vCPU only when one of its enabled
// vCPUs was hot-plugged and it has ACPI; other drivers have no such limit.
func TestFixedVCPUs(t *testing.T) {
	const hotplugged = `<vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>` +
		`<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='2' enabled='no' hotpluggable='yes'/></vcpus>`
	const onlyBoot = `<vcpus><vcpu id='0' enabled='yes' hotpluggable='no'/><vcpu id='1' enabled='no' hotpluggable='yes'/></vcpus>`
	tests := []struct {
		name, typ, body string
		fixed           bool
	}{
		{"qemu, boot vCPUs only (no <vcpus>)", "qemu", `<features><acpi/></features>`, true},
		{"kvm, one hot-plugged", "kvm", `<features><acpi/></features>` + hotplugged, false},
		{"qemu, hot-pluggable ones disabled", "qemu", `<features><acpi/></features>` + onlyBoot, true},
		{"qemu without ACPI", "qemu", hotplugged, true},
		{"test driver", "test", ``, false},
		{"xen", "xen", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `<domain type='` + tt.typ + `'><name>v</name><uuid>00000000-0000-0000-0000-000000000002</uuid>` +
				`<memory>65536</memory><vcpu current='2'>3</vcpu>` + tt.body + `</domain>`
			d, err := ParseDomainXML(doc)
			if err != nil {
				t.Fatal(err)
			}
			if d.FixedVCPUs != tt.fixed {
				t.Errorf("FixedVCPUs = %v, want %v", d.FixedVCPUs, tt.fixed)
			}
		})
	}
}

func TestParseCPUSet(t *testing.T) {
	tests := []struct {
		spec string
		want CPUSet
		bad  bool
	}{
		{spec: "", want: nil},
		{spec: "3", want: CPUSet{3}},
		{spec: "0-3,^2,6", want: CPUSet{0, 1, 3, 6}},
		{spec: " 5 , 1-2 ,1", want: CPUSet{1, 2, 5}},
		{spec: "0-1,^0,^1", want: CPUSet{}},
		{spec: "3-1", bad: true},
		{spec: "x", bad: true},
		{spec: "^1-2", bad: true},
		{spec: "0-4294967295", bad: true},
		{spec: "1,,2", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseCPUSet(tt.spec)
		if (err != nil) != tt.bad || !tt.bad && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCPUSet(%q) = %v, %v; want %v (error %v)", tt.spec, got, err, tt.want, tt.bad)
		}
	}
}

func TestAffinity(t *testing.T) {
	doc := `<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-000000000003</uuid>` +
		`<memory>65536</memory><vcpu cpuset='0-3'>3</vcpu><cputune><vcpupin vcpu='1' cpuset='2'/>` +
		`<vcpupin vcpu='2' cpuset='nonsense'/><vcpupin vcpu='x' cpuset='1'/></cputune></domain>`
	d, err := ParseDomainXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	for vcpu, want := range []CPUSet{{0, 1, 2, 3}, {2}, {0, 1, 2, 3}} {
		if got, ok := d.Affinity(vcpu); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Affinity(%d) = %v, %v; want %v", vcpu, got, ok, want)
		}
	}
	d, err = ParseDomainXML(`<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-000000000003</uuid>` +
		`<memory>65536</memory><vcpu>2</vcpu></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.Affinity(0); ok {
		t.Errorf("Affinity(0) of an unpinned domain = %v, want every CPU (false)", got)
	}
}
