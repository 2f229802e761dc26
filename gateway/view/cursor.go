package view

import (
	"github.com/hashicorp/go-memdb"
)

// The read path's cursors. A request asks for the same VM again (a GETBULK over several
// columns, the sub-tables of one VM) or for the VM after the last one (a column walk):
// the first reuses the last answer, the second continues the open memdb iterator (in
// the merged context, steps in the flat index of vmindex.go) instead of seeking again. Any other
// seek is a LowerBound, O(log n). A Snapshot's cursors make it unsafe for concurrent
// use: take one per request.

// vmCursor is the last VM seek of a host's context.
type vmCursor struct {
	valid bool
	from  uint32 // the last seek's argument
	row   VMRow  // its answer, when found
	found bool

	it memdb.ResultIterator // positioned after row
}

// SeekVM returns the first VM of ctx whose vmId is >= from. In the merged context a
// UUID known to several hosts appears once, as chosen by Prefer.
func (s *Snapshot) SeekVM(ctx string, from uint32) (VMRow, bool) {
	s.useContext(ctx)
	if ctx == "" {
		if x := s.vmIndex(); x != nil {
			return s.seekMerged(x, from)
		}
		return VMRow{}, false
	}
	c := &s.cur
	if c.valid {
		switch {
		case from == c.from, c.found && from > c.from && from <= c.row.VMID:
			return c.row, c.found // no VM lies between c.from and c.row
		case c.found && c.it != nil && from == c.row.VMID+1:
			c.from = from
			c.row, c.found = s.advance()
			return c.row, c.found
		case !c.found && from > c.from:
			c.from = from
			return VMRow{}, false // nothing at or after the last seek
		}
	}
	*c = vmCursor{valid: true, from: from}
	if !s.openVMs(from) {
		return VMRow{}, false
	}
	c.row, c.found = s.advance()
	return c.row, c.found
}

// useContext resets the cursors when a request reads another context than the last.
func (s *Snapshot) useContext(ctx string) {
	if ctx != s.ctx {
		s.ctx, s.cur, s.vpos, s.vrow = ctx, vmCursor{}, 0, VMRow{}
	}
}

// openVMs positions the cursor's iterator at the host's first record with vmId >= from.
func (s *Snapshot) openVMs(from uint32) bool {
	c := &s.cur
	if s.hosts[s.ctx] == nil {
		return false
	}
	var err error
	c.it, err = s.txn.LowerBound(tableVM, indexID, hostNumKey(s.ctx, from))
	if err != nil {
		c.it = nil
		return false
	}
	return true
}

// advance returns the host's next VM from the iterator.
func (s *Snapshot) advance() (VMRow, bool) {
	c := &s.cur
	raw := c.it.Next()
	if raw == nil || raw.(*VM).Host != s.ctx {
		c.it = nil
		return VMRow{}, false
	}
	return s.row(raw.(*VM)), true
}
