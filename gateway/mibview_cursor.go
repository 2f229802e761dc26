package gateway

import (
	"github.com/hashicorp/go-memdb"

	"github.com/vmgate/vmgate/hosts"
)

// vmCursor makes a walk of the VMs inside one snapshot cheap. The varbinds of one PDU
// ask for the same VM again (a GETBULK over several columns, the sub-tables of one VM)
// or for the VM after the last one (a column walk): the first reuses the last answer,
// the second continues the open memdb iterator instead of seeking again. Any other
// seek is a LowerBound, O(log n). It gives the same rows as Snapshot.VMs.
type vmCursor struct {
	valid bool
	from  uint32 // the last seek's argument
	row   VMRow  // its answer, when found
	found bool

	it    memdb.ResultIterator // positioned after row (and after ahead)
	ahead *VM                  // merged context: the record read past row's records
}

// seekVM returns the first VM of the context whose vmId is >= from.
func (ms *mibSnap) seekVM(from uint32) (VMRow, bool) {
	if ms.ctx == "" {
		if x := ms.vmIndex(); x != nil {
			return ms.seekMerged(x, from)
		}
	}
	c := &ms.cur
	if c.valid {
		switch {
		case from == c.from, c.found && from > c.from && from <= c.row.VMID:
			return c.row, c.found // no VM lies between c.from and c.row
		case c.found && c.it != nil && from == c.row.VMID+1:
			c.from = from
			c.row, c.found = ms.advance()
			return c.row, c.found
		case !c.found && from > c.from:
			c.from = from
			return VMRow{}, false // nothing at or after the last seek
		}
	}
	*c = vmCursor{valid: true, from: from}
	if !ms.openVMs(from) {
		return VMRow{}, false
	}
	c.row, c.found = ms.advance()
	return c.row, c.found
}

// openVMs positions the cursor's iterator at the first record with vmId >= from.
func (ms *mibSnap) openVMs(from uint32) bool {
	s, c := ms.s, &ms.cur
	var err error
	if ms.ctx == "" {
		c.it, err = s.txn.LowerBound(tableVM, indexVMID, numKey(from))
	} else {
		if s.hosts[ms.ctx] == nil {
			return false
		}
		c.it, err = s.txn.LowerBound(tableVM, indexID, hostNumKey(ms.ctx, from))
	}
	if err != nil {
		c.it = nil
		return false
	}
	return true
}

// advance returns the next VM of the context from the iterator: in the merged context
// the record Prefer chooses among the hosts' records of one vmId.
func (ms *mibSnap) advance() (VMRow, bool) {
	c := &ms.cur
	if ms.ctx != "" {
		raw := c.it.Next()
		if raw == nil || raw.(*VM).Host != ms.ctx {
			c.it = nil
			return VMRow{}, false
		}
		return ms.s.row(raw.(*VM)), true
	}
	var best *VM
	for {
		vm := c.ahead
		c.ahead = nil
		if vm == nil {
			raw := c.it.Next()
			if raw == nil {
				break
			}
			vm = raw.(*VM)
		}
		if best != nil && vm.VMID != best.VMID {
			c.ahead = vm
			break
		}
		if best == nil || ms.s.Prefer(vm, best) {
			best = vm
		}
	}
	if best == nil {
		c.it = nil
		return VMRow{}, false
	}
	return ms.s.row(best), true
}

// hostEntry returns a host's entry, remembering the last one (a context, and mostly a
// walk, shows one host's VMs after another).
func (ms *mibSnap) hostEntry(name string) (*HostEntry, bool) {
	if ms.lastHost != nil && ms.lastHost.Name == name {
		return ms.lastHost, true
	}
	e, ok := ms.s.Host(name)
	if ok {
		ms.lastHost = e
	}
	return e, ok
}

// hostStats returns a host's counter snapshot and freshness, remembering the last host.
func (ms *mibSnap) hostStats(name string) (*hosts.Stats, bool) {
	if ms.statsHost != name || !ms.statsValid {
		ms.stats, ms.statsFresh = ms.s.Stats(name)
		ms.statsHost, ms.statsValid = name, true
	}
	return ms.stats, ms.statsFresh
}

// imageCursor is vmCursor for diskImagesTable: a walk continues the open iterator.
type imageCursor struct {
	valid bool
	from  uint32
	im    *DiskImage // the last answer; nil: none
	it    memdb.ResultIterator
}

// seekImage returns the first disk image of the context whose index is >= from.
func (ms *mibSnap) seekImage(from uint32) *DiskImage {
	c := &ms.imgs
	if c.valid {
		switch {
		case from == c.from, c.im != nil && from > c.from && from <= c.im.Index:
			return c.im
		case c.im != nil && c.it != nil && from == c.im.Index+1:
			c.from, c.im = from, ms.nextImage()
			return c.im
		case c.im == nil && from > c.from:
			c.from = from
			return nil
		}
	}
	*c = imageCursor{valid: true, from: from}
	s := ms.s
	var err error
	if ms.ctx == "" {
		c.it, err = s.txn.LowerBound(tableImage, indexID, numKey(from))
	} else if s.hosts[ms.ctx] != nil {
		c.it, err = s.txn.LowerBound(tableImage, indexHost, hostNumKey(ms.ctx, from))
	}
	if err != nil || c.it == nil {
		c.it = nil
		return nil
	}
	c.im = ms.nextImage()
	return c.im
}

func (ms *mibSnap) nextImage() *DiskImage {
	c := &ms.imgs
	raw := c.it.Next()
	if raw == nil || (ms.ctx != "" && raw.(*DiskImage).Host != ms.ctx) {
		c.it = nil
		return nil
	}
	return raw.(*DiskImage)
}

// image returns the disk image with index idx, of any host (a unique-index lookup).
func (ms *mibSnap) image(idx uint32) *DiskImage {
	raw, err := ms.s.txn.First(tableImage, indexID, numKey(idx))
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*DiskImage)
}
