package view

import "github.com/vmgate/vmgate/hosts"

// maxInterned bounds the string table: past it, new values are kept as they come
// (a host reporting ever new models costs their own memory, no more).
const maxInterned = 1 << 14

// strTable interns the strings of few distinct values that every record repeats
// (domain and OS types, architectures, machines, buses, models, formats, pool and
// network names, disk targets), so that 50,000 records share one copy of each instead
// of the one each XML parse allocates, and likewise each record's DomainKind and each
// device's DiskKind or NICKind. Only the writer uses it, under View.mu.
type strTable struct {
	strs      map[string]string
	kinds     map[DomainKind]*DomainKind
	diskKinds map[DiskKind]*DiskKind
	nicKinds  map[NICKind]*NICKind
}

func newStrTable() *strTable {
	return &strTable{strs: map[string]string{}, kinds: map[DomainKind]*DomainKind{},
		diskKinds: map[DiskKind]*DiskKind{}, nicKinds: map[NICKind]*NICKind{}}
}

func (t *strTable) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := t.strs[s]; ok {
		return c
	}
	if len(t.strs) < maxInterned {
		t.strs[s] = s
	}
	return s
}

// kind returns the shared copy of k.
func (t *strTable) kind(k DomainKind) *DomainKind { return share(t.kinds, k) }

// share returns m's copy of k, storing k while m has room.
func share[K comparable](m map[K]*K, k K) *K {
	if c, ok := m[k]; ok {
		return c
	}
	c := &k
	if len(m) < maxInterned {
		m[k] = c
	}
	return c
}

// disk returns the record form of d, its fields of few values shared.
func (t *strTable) disk(d *hosts.Disk) Disk {
	k := share(t.diskKinds, DiskKind{Device: d.Device, Type: d.Type, Bus: d.Bus, Pool: d.Pool, Format: d.Format})
	return Disk{DiskKind: k, Target: t.intern(d.Target), Source: d.Source, Volume: d.Volume, ReadOnly: d.ReadOnly,
		Capacity: d.Capacity, Allocation: d.Allocation}
}

// nic returns the record form of n, its fields of few values shared.
func (t *strTable) nic(n *hosts.NIC) NIC {
	return NIC{NICKind: share(t.nicKinds, NICKind{Type: n.Type, Source: n.Source, Model: n.Model}),
		MAC: n.MAC, Target: n.Target}
}

func (t *strTable) controller(c hosts.Controller) hosts.Controller {
	c.Type, c.Model = t.intern(c.Type), t.intern(c.Model)
	return c
}
