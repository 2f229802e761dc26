package hosts

// scanDomainXML fills domainXML from doc with xmlScan, as xml.Unmarshal would (a field
// takes the last occurrence, a slice one entry per element, a struct element's
// occurrences write over one another); false when doc is outside what xmlScan reads.
// encoding/xml took 40-180 us per domain; a resync of 1,000 hosts parses 50,000.
func scanDomainXML(doc string) (domainXML, bool) {
	var x domainXML
	z := newXMLScan(doc)
	root, ok := z.root()
	if !ok {
		return x, false
	}
	setAttr(&root, "type", &x.Type)
	z.children(root, func(c xmlElem) {
		switch c.local() {
		case "name":
			x.Name = z.text(c)
		case "uuid":
			x.UUID = z.text(c)
		case "metadata":
			z.children(c, func(c xmlElem) {
				if c.local() == "libosinfo" {
					z.children(c, func(c xmlElem) {
						if c.local() == "os" {
							setAttr(&c, "id", &x.Metadata.OSInfo.OS.ID)
						}
					})
				}
			})
		case "memory":
			x.Memory.scan(z, c)
		case "currentMemory":
			x.CurrentMemory.scan(z, c)
		case "vcpu":
			setAttr(&c, "current", &x.VCPU.Current)
			setAttr(&c, "cpuset", &x.VCPU.CPUSet)
			x.VCPU.Value = z.text(c)
		case "cputune":
			z.children(c, func(c xmlElem) {
				if c.local() == "vcpupin" {
					x.CPUTune.VCPUPins = append(x.CPUTune.VCPUPins, struct {
						VCPU   string `xml:"vcpu,attr"`
						CPUSet string `xml:"cpuset,attr"`
					}{})
					p := &x.CPUTune.VCPUPins[len(x.CPUTune.VCPUPins)-1]
					setAttr(&c, "vcpu", &p.VCPU)
					setAttr(&c, "cpuset", &p.CPUSet)
				}
			})
		case "vcpus":
			z.children(c, func(c xmlElem) {
				if c.local() == "vcpu" {
					x.VCPUs.VCPU = append(x.VCPUs.VCPU, struct {
						Enabled      string `xml:"enabled,attr"`
						Hotpluggable string `xml:"hotpluggable,attr"`
					}{})
					v := &x.VCPUs.VCPU[len(x.VCPUs.VCPU)-1]
					setAttr(&c, "enabled", &v.Enabled)
					setAttr(&c, "hotpluggable", &v.Hotpluggable)
				}
			})
		case "features":
			z.children(c, func(c xmlElem) {
				if c.local() == "acpi" {
					x.Features.ACPI = &struct{}{}
				}
			})
		case "os":
			x.scanOS(z, c)
		case "devices":
			x.scanDevices(z, c)
		}
	})
	return x, !z.bad
}

// setAttr sets *dst to e's attribute local when e has it, and leaves it otherwise.
func setAttr(e *xmlElem, local string, dst *string) {
	if v, ok := e.attr(local); ok {
		*dst = v
	}
}

func (m *memXML) scan(z *xmlScan, e xmlElem) {
	setAttr(&e, "unit", &m.Unit)
	m.Value = z.text(e)
}

func (x *domainXML) scanOS(z *xmlScan, e xmlElem) {
	z.children(e, func(c xmlElem) {
		switch c.local() {
		case "type":
			setAttr(&c, "arch", &x.OS.Type.Arch)
			setAttr(&c, "machine", &x.OS.Type.Machine)
			x.OS.Type.Value = z.text(c)
		case "kernel":
			x.OS.Kernel = z.text(c)
		case "initrd":
			x.OS.Initrd = z.text(c)
		case "cmdline":
			x.OS.Cmdline = z.text(c)
		}
	})
}

func (x *domainXML) scanDevices(z *xmlScan, e xmlElem) {
	dev := &x.Devices
	z.children(e, func(c xmlElem) {
		switch c.local() {
		case "disk":
			dev.Disks = append(dev.Disks, diskXML{})
			dev.Disks[len(dev.Disks)-1].scan(z, c)
		case "interface":
			dev.Interfaces = append(dev.Interfaces, nicXML{})
			dev.Interfaces[len(dev.Interfaces)-1].scan(z, c)
		case "controller":
			var cx controllerXML
			setAttr(&c, "type", &cx.Type)
			setAttr(&c, "model", &cx.Model)
			setAttr(&c, "index", &cx.Index)
			dev.Controllers = append(dev.Controllers, cx)
		case "channel":
			dev.Channels = append(dev.Channels, struct {
				Target struct {
					Name string `xml:"name,attr"`
				} `xml:"target"`
			}{})
			ch := &dev.Channels[len(dev.Channels)-1]
			z.children(c, func(c xmlElem) {
				if c.local() == "target" {
					setAttr(&c, "name", &ch.Target.Name)
				}
			})
		}
	})
}

func (d *diskXML) scan(z *xmlScan, e xmlElem) {
	setAttr(&e, "type", &d.Type)
	setAttr(&e, "device", &d.Device)
	z.children(e, func(c xmlElem) {
		switch c.local() {
		case "driver":
			setAttr(&c, "type", &d.Driver.Type)
		case "source":
			s := &d.Source
			setAttr(&c, "file", &s.File)
			setAttr(&c, "dev", &s.Dev)
			setAttr(&c, "dir", &s.Dir)
			setAttr(&c, "pool", &s.Pool)
			setAttr(&c, "volume", &s.Volume)
			setAttr(&c, "name", &s.Name)
			setAttr(&c, "protocol", &s.Network)
		case "target":
			setAttr(&c, "dev", &d.Target.Dev)
			setAttr(&c, "bus", &d.Target.Bus)
		case "readonly":
			d.ReadOnly = &struct{}{}
		}
	})
}

func (n *nicXML) scan(z *xmlScan, e xmlElem) {
	setAttr(&e, "type", &n.Type)
	z.children(e, func(c xmlElem) {
		switch c.local() {
		case "mac":
			setAttr(&c, "address", &n.MAC.Address)
		case "source":
			setAttr(&c, "network", &n.Source.Network)
			setAttr(&c, "bridge", &n.Source.Bridge)
			setAttr(&c, "dev", &n.Source.Dev)
		case "model":
			setAttr(&c, "type", &n.Model.Type)
		case "target":
			setAttr(&c, "dev", &n.Target.Dev)
		}
	})
}
