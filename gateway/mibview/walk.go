package mibview

import "github.com/vmgate/vmgate/mib"

// VMInto implements mib.VMFiller: VM without copying the row out (a walk reads a row per
// varbind).
func (ms *mibSnap) VMInto(from uint32, dst *mib.VMRow) bool {
	r, ok := ms.s.SeekVM(ms.ctx, from)
	if !ok {
		return false
	}
	ms.fillVM(r, dst)
	return true
}
