package gateway

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vmgate/vmgate/hosts"
)

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
// built-in one): name, UUID, memory and vCPUs (maxVCPUs > vcpus: that maximum, for
// adding vCPUs live) replaced, MAC addresses removed (libvirt generates fresh ones).
// The rest of the text is kept byte for byte.
func NewDomainXML(tmpl, name string, id hosts.UUID, memMb, vcpus, maxVCPUs uint32) (string, error) {
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
	fmt.Fprintf(&head, "</name>\n  <uuid>%s</uuid>\n  <memory unit='KiB'>%d</memory>\n"+
		"  <currentMemory unit='KiB'>%d</currentMemory>\n", id, uint64(memMb)<<10, uint64(memMb)<<10)
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
