package view

import "github.com/vmgate/vmgate/hosts"

// maxInterned bounds the string table: past it, new values are kept as they come
// (a host reporting ever new models costs their own memory, no more).
const maxInterned = 1 << 14

// strTable interns the strings of few distinct values that every record repeats
// (domain and OS types, architectures, machines, buses, models, formats, pool and
// network names), so that 50,000 records share one copy of each instead
// of the one each XML parse allocates. Only the writer uses it, under View.mu.
type strTable map[string]string

func (t strTable) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := t[s]; ok {
		return c
	}
	if len(t) < maxInterned {
		t[s] = s
	}
	return s
}

// domain interns d's strings of few values; its devices are interned as the record's
// copies are made (disk, nic, controller).
func (t strTable) domain(d *hosts.Domain) {
	for _, p := range []*string{&d.DomainType, &d.OSType, &d.Arch, &d.Machine, &d.OSInfoID,
		&d.Kernel, &d.Initrd, &d.Cmdline} {
		*p = t.intern(*p)
	}
}

func (t strTable) disk(d hosts.Disk) hosts.Disk {
	for _, p := range []*string{&d.Device, &d.Type, &d.Bus, &d.Pool, &d.Format} {
		*p = t.intern(*p)
	}
	return d
}

func (t strTable) nic(n hosts.NIC) hosts.NIC {
	for _, p := range []*string{&n.Type, &n.Source, &n.Model} {
		*p = t.intern(*p)
	}
	return n
}

func (t strTable) controller(c hosts.Controller) hosts.Controller {
	c.Type, c.Model = t.intern(c.Type), t.intern(c.Model)
	return c
}
