package hosts

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// The XML vmgate writes: definitions of new VMs from templates, and the devices it
// attaches. Parsing what libvirt reports is domainxml.go's.

// builtinTemplate is the definition a template without an XML file starts from: a
// diskless TCG guest that any QEMU host can run.
const builtinTemplate = `<domain type='qemu'>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
  </devices>
</domain>
`

// replaced are the children of <domain> a new VM's definition sets itself.
var replaced = map[string]bool{"name": true, "uuid": true, "memory": true, "currentMemory": true,
	"vcpu": true, "vcpus": true}

// NewDomainXML returns the definition of a new VM from a template's XML ("" : the
// built-in one): name, UUID (none when id is zero: a template's own definition),
// memory and vCPUs (maxVCPUs > vcpus: that maximum, for adding vCPUs live) replaced,
// MAC addresses removed (libvirt generates fresh ones). The rest of the text is kept
// byte for byte.
func NewDomainXML(tmpl, name string, id UUID, memMb, vcpus, maxVCPUs uint32) (string, error) {
	if tmpl == "" {
		tmpl = builtinTemplate
	}
	cuts, insertAt, err := templateCuts(tmpl)
	if err != nil {
		return "", err
	}
	var head bytes.Buffer
	head.WriteString("\n  <name>")
	if err := xml.EscapeText(&head, []byte(name)); err != nil {
		return "", err
	}
	head.WriteString("</name>\n")
	if id != (UUID{}) {
		fmt.Fprintf(&head, "  <uuid>%s</uuid>\n", id)
	}
	fmt.Fprintf(&head, "  <memory unit='KiB'>%d</memory>\n  <currentMemory unit='KiB'>%d</currentMemory>\n",
		uint64(memMb)<<10, uint64(memMb)<<10)
	if maxVCPUs > vcpus {
		fmt.Fprintf(&head, "  <vcpu current='%d'>%d</vcpu>", vcpus, maxVCPUs)
	} else {
		fmt.Fprintf(&head, "  <vcpu>%d</vcpu>", vcpus)
	}
	var out strings.Builder
	out.WriteString(tmpl[:insertAt])
	out.WriteString(head.String())
	pos := insertAt
	for _, c := range cuts { // all inside <domain>, after insertAt, in order
		out.WriteString(tmpl[pos:c[0]])
		pos = c[1]
	}
	out.WriteString(tmpl[pos:])
	return out.String(), nil
}

// templateCuts finds the byte ranges to remove (replaced children of <domain>, <mac>
// of interfaces) and the offset just after the <domain ...> start tag.
func templateCuts(doc string) (cuts [][2]int, insertAt int, err error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	var stack []string
	insertAt = -1
	for {
		start := int(d.InputOffset())
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("template XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if len(stack) == 1 {
				if insertAt >= 0 {
					return nil, 0, fmt.Errorf("template XML: a second root element <%s>", t.Name.Local)
				}
				if t.Name.Local != "domain" {
					return nil, 0, fmt.Errorf("template XML: root element <%s>, want <domain>", t.Name.Local)
				}
				insertAt = int(d.InputOffset())
				continue
			}
			cut := len(stack) == 2 && replaced[t.Name.Local] ||
				len(stack) == 4 && t.Name.Local == "mac" && stack[1] == "devices" && stack[2] == "interface"
			if cut {
				if err := skipRaw(d); err != nil {
					return nil, 0, fmt.Errorf("template XML: %w", err)
				}
				stack = stack[:len(stack)-1]
				cuts = append(cuts, [2]int{start, int(d.InputOffset())})
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if insertAt < 0 {
		return nil, 0, errors.New("template XML: no <domain> element")
	}
	if len(stack) != 0 {
		return nil, 0, fmt.Errorf("template XML: <%s> not closed", stack[len(stack)-1])
	}
	return cuts, insertAt, nil
}

// skipRaw consumes tokens up to the end of the element just started (RawToken does not
// track nesting, so Decoder.Skip cannot be used with it).
func skipRaw(d *xml.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := d.RawToken()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// WithDevice inserts a device element at the end of the domain's <devices>, which it
// creates when the domain has none.
func WithDevice(doc, dev string) string {
	if i := strings.LastIndex(doc, "</devices>"); i >= 0 {
		return doc[:i] + "  " + dev + "\n  " + doc[i:]
	}
	if i := strings.LastIndex(doc, "</domain>"); i >= 0 {
		return doc[:i] + "  <devices>\n    " + dev + "\n  </devices>\n" + doc[i:]
	}
	return doc
}

// TemplateHead is what a template's domain XML says of the VM it makes.
type TemplateHead struct {
	Name            string // "" when the XML has none
	MemoryKiB       uint64 // 0 when the XML has none
	VCPUs, MaxVCPUs uint32 // at least 1
}

// ParseTemplateHead reads the name, memory and vCPUs of a domain definition.
func ParseTemplateHead(doc []byte) (TemplateHead, error) {
	var d struct {
		XMLName xml.Name `xml:"domain"`
		domainXML
	}
	if err := xml.Unmarshal(doc, &d); err != nil {
		return TemplateHead{}, fmt.Errorf("not a domain definition: %w", err)
	}
	mem, err := kib(d.Memory)
	if err != nil {
		return TemplateHead{}, fmt.Errorf("memory: %w", err)
	}
	maxV, err := optUint32(d.VCPU.Value)
	if err != nil {
		return TemplateHead{}, fmt.Errorf("vcpu: %w", err)
	}
	cur, err := optUint32(d.VCPU.Current)
	if err != nil {
		return TemplateHead{}, fmt.Errorf("vcpu current: %w", err)
	}
	h := TemplateHead{Name: d.Name, MemoryKiB: mem, MaxVCPUs: max(maxV, 1)}
	h.VCPUs = h.MaxVCPUs
	if cur != 0 && cur < h.VCPUs {
		h.VCPUs = cur
	}
	return h, nil
}

// optUint32 parses an optional number: 0 when s is blank.
func optUint32(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// DefaultBus is the bus a new disk of device kind dev ("disk", "cdrom", "floppy",
// "lun") gets when none is asked for.
func DefaultBus(dev string) string {
	switch dev {
	case "cdrom":
		return "sata"
	case "floppy":
		return "fdc"
	case "lun":
		return "scsi"
	}
	return "virtio"
}

// FreeTarget returns the first device name of bus's naming scheme (vda, vdb... for
// virtio; sda... for sata, scsi and usb; hda... for ide; fda... for fdc) that is not
// in used.
func FreeTarget(bus string, used []string) string {
	prefix := map[string]string{"virtio": "vd", "ide": "hd", "fdc": "fd", "xen": "xvd"}[bus]
	if prefix == "" {
		prefix = "sd"
	}
	for i := 0; ; i++ {
		name := prefix + driveSuffix(i)
		if !slices.Contains(used, name) {
			return name
		}
	}
}

// driveSuffix is libvirt's disk name suffix: a..z, aa..az, ba...
func driveSuffix(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}

// DiskSpec is a <disk> element vmgate writes: for attach, detach and media change.
type DiskSpec struct {
	Device string // disk, cdrom, floppy, lun
	Target string // vda...
	Bus    string // virtio, sata...
	Path   string // the image; "" : an empty drive
	Format string // raw, qcow2...; "" : raw
}

// DiskXML returns the <disk> element of d.
func DiskXML(d DiskSpec) string {
	var b bytes.Buffer
	typ := "file"
	if strings.HasPrefix(d.Path, "/dev/") {
		typ = "block"
	}
	fmt.Fprintf(&b, "<disk type='%s' device='%s'>", typ, attr(d.Device))
	format := d.Format
	if format == "" {
		format = "raw"
	}
	fmt.Fprintf(&b, "<driver name='qemu' type='%s'/>", attr(format))
	if d.Path != "" {
		attrName := "file"
		if typ == "block" {
			attrName = "dev"
		}
		fmt.Fprintf(&b, "<source %s='%s'/>", attrName, attr(d.Path))
	}
	fmt.Fprintf(&b, "<target dev='%s' bus='%s'/>", attr(d.Target), attr(d.Bus))
	if d.Device == "cdrom" || d.Device == "floppy" {
		b.WriteString("<readonly/>")
	}
	b.WriteString("</disk>")
	return b.String()
}

// attr escapes s for an XML attribute in single quotes.
func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}
