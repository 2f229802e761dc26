package hosts

import (
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// domainXML is the part of libvirt's domain XML vmgate reads.
type domainXML struct {
	Type string `xml:"type,attr"`
	Name string `xml:"name"`
	UUID string `xml:"uuid"`
	// libosinfo's namespace is matched by local name: <libosinfo:os id=...>.
	Metadata struct {
		OSInfo struct {
			OS struct {
				ID string `xml:"id,attr"`
			} `xml:"os"`
		} `xml:"libosinfo"`
	} `xml:"metadata"`
	Memory        memXML `xml:"memory"`
	CurrentMemory memXML `xml:"currentMemory"`
	VCPU          struct {
		Current string `xml:"current,attr"`
		CPUSet  string `xml:"cpuset,attr"`
		Value   string `xml:",chardata"`
	} `xml:"vcpu"`
	CPUTune struct {
		VCPUPins []struct {
			VCPU   string `xml:"vcpu,attr"`
			CPUSet string `xml:"cpuset,attr"`
		} `xml:"vcpupin"`
	} `xml:"cputune"`
	VCPUs struct {
		VCPU []struct {
			Enabled      string `xml:"enabled,attr"`
			Hotpluggable string `xml:"hotpluggable,attr"`
		} `xml:"vcpu"`
	} `xml:"vcpus"`
	Features struct {
		ACPI *struct{} `xml:"acpi"`
	} `xml:"features"`
	OS struct {
		Type struct {
			Arch    string `xml:"arch,attr"`
			Machine string `xml:"machine,attr"`
			Value   string `xml:",chardata"`
		} `xml:"type"`
		Kernel  string `xml:"kernel"`
		Initrd  string `xml:"initrd"`
		Cmdline string `xml:"cmdline"`
	} `xml:"os"`
	Devices struct {
		Disks       []diskXML       `xml:"disk"`
		Interfaces  []nicXML        `xml:"interface"`
		Controllers []controllerXML `xml:"controller"`
		Channels    []struct {
			Target struct {
				Name string `xml:"name,attr"`
			} `xml:"target"`
		} `xml:"channel"`
	} `xml:"devices"`
}

type memXML struct {
	Unit  string `xml:"unit,attr"`
	Value string `xml:",chardata"`
}

type diskXML struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Driver struct {
		Type string `xml:"type,attr"`
	} `xml:"driver"`
	Source struct {
		File    string `xml:"file,attr"`
		Dev     string `xml:"dev,attr"`
		Dir     string `xml:"dir,attr"`
		Pool    string `xml:"pool,attr"`
		Volume  string `xml:"volume,attr"`
		Name    string `xml:"name,attr"`
		Network string `xml:"protocol,attr"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
	ReadOnly *struct{} `xml:"readonly"`
}

type nicXML struct {
	Type string `xml:"type,attr"`
	MAC  struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Source struct {
		Network string `xml:"network,attr"`
		Bridge  string `xml:"bridge,attr"`
		Dev     string `xml:"dev,attr"`
	} `xml:"source"`
	Model struct {
		Type string `xml:"type,attr"`
	} `xml:"model"`
	Target struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
}

type controllerXML struct {
	Type  string `xml:"type,attr"`
	Model string `xml:"model,attr"`
	Index string `xml:"index,attr"`
}

// ParseDomainXML reads a domain XML document into the Domain fields it carries:
// everything except ID, State, Reason, Persistent and Autostart.
func ParseDomainXML(doc string) (Domain, error) {
	x, ok := scanDomainXML(doc)
	if !ok {
		x = domainXML{}
		if err := xml.Unmarshal([]byte(doc), &x); err != nil {
			return Domain{}, fmt.Errorf("domain xml: %w", err)
		}
	}
	uuid, err := ParseUUID(strings.TrimSpace(x.UUID))
	if err != nil {
		return Domain{}, fmt.Errorf("domain xml %q: %w", x.Name, err)
	}
	d := Domain{
		UUID: uuid, Name: x.Name, ID: -1, DomainType: x.Type,
		OSType: strings.TrimSpace(x.OS.Type.Value), Arch: x.OS.Type.Arch, Machine: x.OS.Type.Machine,
		Kernel: x.OS.Kernel, Initrd: x.OS.Initrd, Cmdline: x.OS.Cmdline,
		OSInfoID: x.Metadata.OSInfo.OS.ID,
	}
	if d.MemoryKiB, err = kib(x.Memory); err != nil {
		return Domain{}, fmt.Errorf("domain xml %q: memory: %w", x.Name, err)
	}
	if d.CurrentMemoryKiB, err = kib(x.CurrentMemory); err != nil {
		return Domain{}, fmt.Errorf("domain xml %q: currentMemory: %w", x.Name, err)
	}
	if x.CurrentMemory.Value == "" {
		d.CurrentMemoryKiB = d.MemoryKiB
	}
	d.MaxVCPUs, _ = strconv.Atoi(strings.TrimSpace(x.VCPU.Value))
	d.VCPUs = d.MaxVCPUs
	if n, err := strconv.Atoi(x.VCPU.Current); err == nil {
		d.VCPUs = n
	}
	d.FixedVCPUs = x.fixedVCPUs()
	x.affinity(&d)
	for _, dx := range x.Devices.Disks {
		d.Disks = append(d.Disks, dx.disk())
	}
	for _, nx := range x.Devices.Interfaces {
		d.NICs = append(d.NICs, nx.nic())
	}
	for _, cx := range x.Devices.Controllers {
		idx, _ := strconv.Atoi(cx.Index)
		d.Controllers = append(d.Controllers, Controller{Type: cx.Type, Model: cx.Model, Index: idx})
	}
	for _, ch := range x.Devices.Channels {
		d.GuestAgent = d.GuestAgent || ch.Target.Name == guestAgentChannel
	}
	return d, nil
}

// affinity sets d's CPUSet and VCPUPins. libvirt validates cpusets before it stores a
// definition; one it would refuse (or a vcpu attribute that is not a number) is left
// out rather than failing the whole domain.
func (x *domainXML) affinity(d *Domain) {
	if s, err := ParseCPUSet(x.VCPU.CPUSet); err == nil {
		d.CPUSet = s
	}
	for _, p := range x.CPUTune.VCPUPins {
		n, err := strconv.Atoi(strings.TrimSpace(p.VCPU))
		s, serr := ParseCPUSet(p.CPUSet)
		if err != nil || serr != nil || n < 0 || s == nil {
			continue
		}
		d.VCPUPins = append(d.VCPUPins, VCPUPin{VCPU: n, CPUs: s})
	}
}

// MaxCPUSet bounds the CPU numbers of a cpuset (libvirt's own bitmap limit).
const MaxCPUSet = 16384

// ParseCPUSet parses libvirt's cpuset syntax: comma-separated CPU numbers and ranges
// ("0-3"), a "^N" removing N from what came before; "" is nil.
func ParseCPUSet(spec string) (CPUSet, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	in := map[uint32]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		neg := strings.HasPrefix(part, "^")
		lo, hi, ok := strings.Cut(strings.TrimPrefix(part, "^"), "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
		b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 32)
		if err1 != nil || err2 != nil || a > b || b >= MaxCPUSet || neg && ok {
			return nil, fmt.Errorf("cpuset %q: bad element %q", spec, part)
		}
		for c := a; c <= b; c++ {
			if neg {
				delete(in, uint32(c))
			} else {
				in[uint32(c)] = true
			}
		}
	}
	s := make(CPUSet, 0, len(in))
	for c := range in {
		s = append(s, c)
	}
	slices.Sort(s)
	return s, nil
}

// fixedVCPUs is Domain.FixedVCPUs: a QEMU domain without ACPI, or none of whose
// enabled vCPUs is hotpluggable (the live XML lists <vcpus> once one was plugged;
// without it every vCPU is a boot one).
func (x *domainXML) fixedVCPUs() bool {
	if x.Type != "qemu" && x.Type != "kvm" {
		return false
	}
	if x.Features.ACPI == nil {
		return true
	}
	for _, v := range x.VCPUs.VCPU {
		if v.Enabled == "yes" && v.Hotpluggable == "yes" {
			return false
		}
	}
	return true
}

func (dx diskXML) disk() Disk {
	d := Disk{
		Device: dx.Device, Type: dx.Type, Bus: dx.Target.Bus, Target: dx.Target.Dev,
		Format: dx.Driver.Type, ReadOnly: dx.ReadOnly != nil,
	}
	if d.Device == "" {
		d.Device = "disk"
	}
	if d.Type == "" {
		d.Type = "file"
	}
	switch d.Type {
	case "file":
		d.Source = dx.Source.File
	case "block":
		d.Source = dx.Source.Dev
	case "dir":
		d.Source = dx.Source.Dir
	case "volume":
		d.Pool, d.Volume = dx.Source.Pool, dx.Source.Volume
		if d.Pool != "" || d.Volume != "" {
			d.Source = d.Pool + "/" + d.Volume
		}
	case "network":
		d.Source = dx.Source.Name
	}
	return d
}

func (nx nicXML) nic() NIC {
	n := NIC{
		MAC: strings.ToLower(nx.MAC.Address), Type: nx.Type, Model: nx.Model.Type,
		Target: nx.Target.Dev,
	}
	switch {
	case nx.Source.Network != "":
		n.Source = nx.Source.Network
	case nx.Source.Bridge != "":
		n.Source = nx.Source.Bridge
	default:
		n.Source = nx.Source.Dev
	}
	return n
}

// unitKiB is the size of libvirt's binary memory units in KiB; the default is KiB.
// unitBytes has the byte and decimal units.
var unitKiB = map[string]uint64{
	"": 1, "k": 1, "kib": 1,
	"m": 1 << 10, "mib": 1 << 10, "g": 1 << 20, "gib": 1 << 20, "t": 1 << 30, "tib": 1 << 30,
}

var unitBytes = map[string]uint64{
	"b": 1, "bytes": 1, "kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000, "tb": 1000 * 1000 * 1000 * 1000,
}

func kib(m memXML) (uint64, error) {
	v := strings.TrimSpace(m.Value)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", v, err)
	}
	unit := strings.ToLower(m.Unit)
	if b, ok := unitBytes[unit]; ok {
		if n > math.MaxUint64/b {
			return 0, fmt.Errorf("value %s %s overflows", v, m.Unit)
		}
		return n * b / 1024, nil
	}
	mul, ok := unitKiB[unit]
	if !ok {
		return 0, fmt.Errorf("unit %q unknown", m.Unit)
	}
	if n > math.MaxUint64/mul {
		return 0, fmt.Errorf("value %s %s overflows", v, m.Unit)
	}
	return n * mul, nil
}
