package hosts

import (
	"encoding/xml"
	"os"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// domainXMLSeeds are documents the scanner must read itself (not hand to
// encoding/xml): what libvirt writes, with entities, comments, prefixes.
var domainXMLSeeds = []string{
	`<domain type='kvm' id='3'>
  <name>a&amp;b &lt;c&gt;</name>
  <uuid>00000000-0000-0000-0000-000000000001</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:name>x</nova:name></nova:instance>
  </metadata>
  <!-- a comment -->
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit="KiB">1048576</currentMemory>
  <vcpu placement='static' current='1' cpuset='0-3,^2'>2</vcpu>
  <vcpus><vcpu id='0' enabled='yes' hotpluggable='no'/><vcpu id='1' enabled='no' hotpluggable='yes'/></vcpus>
  <cputune><vcpupin vcpu='1' cpuset='5'/></cputune>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><kernel>/k</kernel><initrd>/i</initrd><cmdline>a=&quot;b&quot;</cmdline></os>
  <features><acpi/><apic/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a b.qcow2'/><target dev='vda' bus='virtio'/><readonly/></disk>
    <disk type='volume' device='cdrom'><source pool='p' volume='v'/><target dev='sda' bus='sata'/></disk>
    <disk type='network'><source protocol='rbd' name='pool/img'/></disk>
    <interface type='bridge'><mac address='52:54:00:aa:bb:01'/><source bridge='br0'/><model type='virtio'/><target dev='vnet0'/></interface>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>
`,
	`<domain><name>t</name><name>u</name><memory>1</memory><memory unit='MiB'></memory><os><type>hvm</type></os><os><kernel>k</kernel></os></domain>`,
	`<domain type="a" test:type="b" xmlns:test="http://libvirt.org/schemas/domain/test/1.0"><name>a<!-- x -->b<sub>c</sub>d</name></domain>`,
	`<domain><!----><!-- - --><name>x<!--y--></name></domain>`,
}

// A parsed domain keeps copies, not pieces of the document: a record holding a
// substring would hold the whole XML reply.
func TestScanDomainXMLKeepsNoDocument(t *testing.T) {
	doc := domainXMLSeeds[0]
	x, ok := scanDomainXML(doc)
	if !ok {
		t.Fatal("not scanned")
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(doc)))
	in := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return s != "" && p >= start && p < start+uintptr(len(doc))
	}
	for _, s := range []string{x.Type, x.Name, x.UUID, x.Memory.Unit, x.Memory.Value, x.VCPU.Value, x.VCPU.CPUSet,
		x.OS.Type.Arch, x.OS.Kernel, x.Metadata.OSInfo.OS.ID, x.Devices.Disks[0].Source.File, x.Devices.Interfaces[0].MAC.Address} {
		if in(s) {
			t.Errorf("%q points into the document", s)
		}
	}
}

// A document nested beyond what the scanner reads goes to encoding/xml, which skips it
// without recursion: no stack overflow.
func TestScanDomainXMLDeep(t *testing.T) {
	deep := "<domain><x>" + strings.Repeat("<a>", 200000) + strings.Repeat("</a>", 200000) + "</x><name>n</name></domain>"
	if _, ok := scanDomainXML(deep); ok {
		t.Fatal("a 200,000-level document was scanned")
	}
	if _, err := ParseDomainXML(deep); err == nil || !strings.Contains(err.Error(), "uuid") {
		t.Errorf("ParseDomainXML of a deep document without a UUID: %v", err)
	}
}

// The scanner reads every document it accepts as xml.Unmarshal does.
func FuzzScanDomainXML(f *testing.F) {
	for _, s := range domainXMLSeeds {
		f.Add(s)
	}
	for _, name := range []string{"testdata/domain-full.xml", "testdata/domain-minimal.xml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := scanDomainXML(doc)
		if !ok {
			return
		}
		var want domainXML
		if err := xml.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("scanned a document encoding/xml refuses (%v): %q", err, doc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nscanned %+v\nencoding/xml %+v", doc, got, want)
		}
	})
}

func TestScanDomainXMLReadsLibvirtsXML(t *testing.T) {
	docs := append([]string{}, domainXMLSeeds...)
	for _, name := range []string{"testdata/domain-full.xml", "testdata/domain-minimal.xml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for i, doc := range docs {
		got, ok := scanDomainXML(doc)
		if !ok {
			t.Errorf("document %d left to encoding/xml", i)
			continue
		}
		var want domainXML
		if err := xml.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("document %d:\nscanned %+v\nencoding/xml %+v", i, got, want)
		}
	}
	for _, doc := range []string{
		`<!DOCTYPE d><domain/>`, `<domain><name><![CDATA[x]]></name></domain>`,
		`<domain><name>&#65;</name></domain>`, "<domain>\r\n</domain>", `<domain><a:b:c/></domain>`,
		`<domain a=b/>`, `<domain><x></y></domain>`, `<domain a='<'/>`, `<domain><name>&bogus;</name></domain>`,
		`<domain><!-- a -- b --><name>x</name></domain>`, `<domain><name>x<!-- y ---></name></domain>`,
		strings.Repeat("<a>", maxScanDepth+1) + "<domain/>",
	} {
		if _, ok := scanDomainXML(doc); ok {
			t.Errorf("%q: scanned; should be left to encoding/xml", doc)
		}
	}
}

func BenchmarkParseDomainXML(b *testing.B) {
	for _, name := range []string{"testdata/domain-full.xml", "testdata/domain-minimal.xml"} {
		doc, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDomainXML(string(doc)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
