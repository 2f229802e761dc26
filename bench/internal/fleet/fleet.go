// Package fleet writes a synthetic hypervisor fleet for the benchmarks: one libvirt
// test-driver node file per host, each with its own VMs (distinct UUIDs and MACs), all
// served by the one local libvirtd as hosts test+unix:///ABS/nodeNNN.xml.
package fleet

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Fleet is the synthetic hypervisor fleet: one libvirt test-driver node file per host
// in Dir, each with VMs domains. Each connection to a host's URI gets a private copy of
// its node: two gateways see the same domains, and a change made through one is not
// seen by the other.
type Fleet struct {
	Dir   string
	Hosts int
	VMs   int
}

// HostName is the configured name (= SNMP context) of host h (0-based).
func HostName(h int) string { return fmt.Sprintf("fleet%03d", h) }

// NodePath is host h's node file.
func (f Fleet) NodePath(h int) string { return filepath.Join(f.Dir, fmt.Sprintf("node%03d.xml", h)) }

// URI is host h's libvirt URI: the test driver through the local libvirtd.
func (f Fleet) URI(h int) string { return "test+unix://" + f.NodePath(h) }

// VMUUID is distinct for every (host, vm) of the fleet.
func VMUUID(h, v int) string { return fmt.Sprintf("f1ee7000-%04x-4000-8000-%012x", h, v) }

// VMMAC is distinct for every (host, vm) of the fleet.
func VMMAC(h, v int) string {
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", h>>8, h&0xff, v>>8, v&0xff)
}

// Write generates every node file.
func (f Fleet) Write() error {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("fleet dir: %w", err)
	}
	for h := range f.Hosts {
		var b strings.Builder
		WriteNode(&b, h, f.VMs)
		if err := os.WriteFile(f.NodePath(h), []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("node file: %w", err)
		}
	}
	return nil
}

// WriteNode renders a test-driver node: vms domains, each with a disk and a NIC on the
// node's network "default" (NAT, with a DHCP range, as a libvirt install sets up); every
// tenth is shut off, the others run. The test driver answers every address source of a
// NIC on a network it defines (an address computed from the DHCP range), and fails
// every source of a NIC on one it does not ("Network not found").
func WriteNode(w io.Writer, h, vms int) {
	fmt.Fprintf(w, `<?xml version="1.0"?>
<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>32</active>
    <nodes>1</nodes><sockets>2</sockets><cores>8</cores><threads>2</threads></cpu>
  <memory>268435456</memory>
  <network>
    <name>default</name>
    <uuid>f1ee7000-%04x-4000-8000-ffffffffffff</uuid>
    <forward mode="nat"/>
    <bridge name="virbr0" stp="on" delay="0"/>
    <mac address="52:54:ff:%02x:%02x:01"/>
    <ip address="10.0.0.1" netmask="255.255.0.0">
      <dhcp><range start="10.0.0.2" end="10.0.255.254"/></dhcp>
    </ip>
  </network>
`, h, h>>8, h&0xff)
	for v := range vms {
		runstate := ""
		if v%10 == 9 {
			runstate = "\n    <test:runstate>5</test:runstate>"
		}
		fmt.Fprintf(w, `  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
    <name>h%03d-vm%03d</name>
    <uuid>%s</uuid>
    <memory unit="MiB">2048</memory>
    <currentMemory unit="MiB">1536</currentMemory>
    <vcpu>2</vcpu>%s
    <os><type arch="x86_64">hvm</type></os>
    <devices>
      <disk type="file" device="disk">
        <driver name="qemu" type="qcow2"/>
        <source file="/fleet/h%03d/vm%03d.qcow2"/>
        <target dev="vda" bus="virtio"/>
      </disk>
      <interface type="network">
        <mac address="%s"/>
        <source network="default"/>
        <model type="virtio"/>
      </interface>
    </devices>
  </domain>
`, h, v, VMUUID(h, v), runstate, h, v, VMMAC(h, v))
	}
	fmt.Fprintf(w, "</node>\n")
}
