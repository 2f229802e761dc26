package view

import "github.com/vmgate/vmgate/hosts"

// maxInterned bounds the string table: past it, new values are kept as they come
// (a host reporting ever new models costs their own memory, no more).
const maxInterned = 1 << 14

// strTable interns the strings of few distinct values that every record repeats
// (domain and OS types, architectures, machines, buses, models, formats, pool and
// network names), so that 50,000 records share one copy of each instead
// of the one each XML parse allocates, and likewise each record's DomainKind. Only the
// writer uses it, under View.mu.
type strTable struct {
	strs  map[string]string
	kinds map[DomainKind]*DomainKind
}

func newStrTable() *strTable {
	return &strTable{strs: map[string]string{}, kinds: map[DomainKind]*DomainKind{}}
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
func (t *strTable) kind(k DomainKind) *DomainKind {
	if c, ok := t.kinds[k]; ok {
		return c
	}
	c := &k
	if len(t.kinds) < maxInterned {
		t.kinds[k] = c
	}
	return c
}

func (t *strTable) disk(d hosts.Disk) hosts.Disk {
	for _, p := range []*string{&d.Device, &d.Type, &d.Bus, &d.Pool, &d.Format} {
		*p = t.intern(*p)
	}
	return d
}

func (t *strTable) nic(n hosts.NIC) hosts.NIC {
	for _, p := range []*string{&n.Type, &n.Source, &n.Model} {
		*p = t.intern(*p)
	}
	return n
}

func (t *strTable) controller(c hosts.Controller) hosts.Controller {
	c.Type, c.Model = t.intern(c.Type), t.intern(c.Model)
	return c
}
