package hosts

import (
	"encoding/xml"
	"strings"
	"testing"
)

const templateXML = `<domain type='qemu'>
  <name>small</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='MiB'>64</currentMemory>
  <vcpu current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>
  </devices>
</domain>
`

func TestNewDomainXML(t *testing.T) {
	u := UUID{0xaa, 1, 2, 3}
	tests := []struct {
		name, tmpl string
		vcpuMax    string
	}{
		{"file", templateXML, ""},
		{"builtin", "", ""},
		{"self-closing children", "<domain type='qemu'><name/><vcpu/><os><type>hvm</type></os></domain>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := NewDomainXML(tt.tmpl, "new<vm>", u, 96, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Name   string `xml:"name"`
				UUID   string `xml:"uuid"`
				Memory []string
				Mem    string   `xml:"memory"`
				Cur    string   `xml:"currentMemory"`
				VCPU   []string `xml:"vcpu"`
				MACs   []string `xml:"devices>interface>mac"`
				OS     string   `xml:"os>type"`
			}
			if err := xml.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if d.Name != "new<vm>" || d.UUID != u.String() || d.Mem != "98304" || d.Cur != "98304" ||
				len(d.VCPU) != 1 || d.VCPU[0] != "1" || len(d.MACs) != 0 || d.OS != "hvm" {
				t.Fatalf("%+v\n%s", d, doc)
			}
			if strings.Count(doc, "<name>") != 1 || strings.Contains(doc, "11111111-2222") {
				t.Fatalf("old values left:\n%s", doc)
			}
		})
	}
	for _, bad := range []string{"<nodomain/>", "<domain>", "plain text",
		"<domain><name>a</name><memory>1</memory></domain><domain><name>b</name></domain>"} {
		if _, err := NewDomainXML(bad, "x", u, 1, 1, 1); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFreeTarget(t *testing.T) {
	disks := []string{"vda", "vdb", "sda"}
	tests := []struct{ bus, want string }{{"virtio", "vdc"}, {"sata", "sdb"}, {"ide", "hda"}, {"fdc", "fda"}}
	for _, tt := range tests {
		if got := FreeTarget(tt.bus, disks); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.bus, got, tt.want)
		}
	}
	if got := driveSuffix(26); got != "aa" {
		t.Errorf("driveSuffix(26) = %s", got)
	}
}

func TestNewDomainXMLWithoutUUID(t *testing.T) {
	doc, err := NewDomainXML(templateXML, "tpl", UUID{}, 64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(doc, "<uuid>") {
		t.Errorf("a template's definition carries a UUID:\n%s", doc)
	}
}

func TestParseTemplateHead(t *testing.T) {
	h, err := ParseTemplateHead([]byte(templateXML))
	if err != nil {
		t.Fatal(err)
	}
	if want := (TemplateHead{Name: "small", MemoryKiB: 64 << 10, VCPUs: 1, MaxVCPUs: 2}); h != want {
		t.Errorf("head = %+v, want %+v", h, want)
	}
	for _, bad := range []string{"<nodomain/>", "<domain><vcpu>many</vcpu></domain>",
		"<domain><memory unit='parsecs'>1</memory></domain>"} {
		if _, err := ParseTemplateHead([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
