package gateway

import (
	"context"
	"slices"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

// VM-MIB (RFC 7666, mib-2 236) notifications, sent from the same lossless stream as
// vmStateChange: a per-VM one when a VM's vmOperState changed to a state that has one,
// and bulk ones (vmAffectedVMs) per state, each at most once per bulkWindow.

// vmMIBEnables are VM-MIB's vmPerVMNotificationsEnabled and vmBulkNotificationsEnabled,
// served (and written by managers) with the rest of VM-MIB.
type vmMIBEnables interface {
	PerVM() bool
	Bulk() bool
}

// defaultEnables holds while no VM-MIB module is wired in: the RFC gives the enables no
// DEFVAL; per-VM notifications on, bulk ones off (a manager asks for them).
type defaultEnables struct{}

func (defaultEnables) PerVM() bool { return true }
func (defaultEnables) Bulk() bool  { return false }

// bulkWindow is the RFC's rate limit of bulk notifications: the VMs that entered a state
// within it are listed in one notification of that state.
const bulkWindow = time.Second

// maxAffectedOctets bounds vmAffectedVMs (vmIndex up to 8 * 8192 = 65536): a VM with a
// larger vmId is left out of the bulk list (logged); its per-VM notification is sent.
const maxAffectedOctets = 8192

// operState is VM-MIB's VirtualMachineOperState.
type operState int

const (
	operUnknown      operState = 1
	operOther        operState = 2
	operRunning      operState = 4
	operSuspended    operState = 6
	operPaused       operState = 8
	operMigrating    operState = 9
	operShuttingdown operState = 10
	operShutdown     operState = 11
	operCrashed      operState = 12
	operDeleted      operState = -1 // not a vmOperState: the VM's definition was removed
)

// operOf maps libvirt's state and reason to vmOperState: paused for a migration is
// migrating, shut off by a crash or a failed emulator crashed, saved to a state file
// (managed save) suspended, PM-suspended suspended.
func operOf(ds hosts.DomainState, reason int32) operState {
	switch ds {
	case hosts.StateRunning, hosts.StateBlocked:
		return operRunning
	case hosts.StatePaused:
		if reason == hosts.ReasonPausedMigration || reason == hosts.ReasonPausedPostcopy {
			return operMigrating
		}
		return operPaused
	case hosts.StateShutdown:
		return operShuttingdown
	case hosts.StateShutoff:
		switch reason {
		case hosts.ReasonShutoffCrashed, hosts.ReasonShutoffFailed:
			return operCrashed
		case hosts.ReasonShutoffSaved:
			return operSuspended
		}
		return operShutdown
	case hosts.StateCrashed:
		return operCrashed
	case hosts.StatePMSuspended:
		return operSuspended
	case hosts.StateNoState:
		return operOther
	}
	return operUnknown
}

// vmMIB are the OIDs of VM-MIB the notifications use.
var (
	vmMIBRoot          = snmp.OID{1, 3, 6, 1, 2, 1, 236}
	vmMIBNotifications = vmMIBRoot.Append(0)
	vmMIBEntry         = vmMIBRoot.Append(1, 4, 1)
	vmMIBName          = vmMIBEntry.Append(2)
	vmMIBUUID          = vmMIBEntry.Append(3)
	vmMIBOperState     = vmMIBEntry.Append(6)
	vmMIBPersistent    = vmMIBEntry.Append(8)
	vmMIBAffectedVMs   = vmMIBRoot.Append(1, 11)
)

// vmMIBNote is the number under vmNotifications of the per-VM notification of a state
// (vmRunning 1 ... vmDeleted 10); the bulk form is 10 more. 0: none.
func vmMIBNote(s operState) uint32 {
	switch s {
	case operRunning:
		return 1
	case operShuttingdown:
		return 2
	case operShutdown:
		return 3
	case operPaused:
		return 4
	case operSuspended:
		return 6
	case operMigrating:
		return 8
	case operCrashed:
		return 9
	case operDeleted:
		return 10
	}
	return 0
}

// persistentOf is vmPersistent: persistent(2), transient(3), unknown(1).
func persistentOf(p *bool) int {
	switch {
	case p == nil:
		return 1
	case *p:
		return 2
	}
	return 3
}

// sendVMMIB sends the VM-MIB notifications of a vmStateChange already sent: the per-VM
// one now (vmOperState is the state the VM left, as the RFC's DESCRIPTIONs say), the
// VM's place in the bulk list of its state for the next flushBulk.
func (n *notifier) sendVMMIB(ctx context.Context, id uint32, v *vmNote) {
	num := vmMIBNote(v.oper)
	if num == 0 || v.oper == v.prevOper {
		return
	}
	if n.enables.PerVM() {
		vbs := []snmp.VarBind{
			{OID: vmMIBName.Append(id), Type: gosnmp.OctetString, Value: v.name},
			{OID: vmMIBUUID.Append(id), Type: gosnmp.OctetString, Value: v.uuid[:]},
			{OID: vmMIBOperState.Append(id), Type: gosnmp.Integer, Value: int(v.prevOper)},
		}
		if v.oper == operDeleted {
			vbs = append(vbs, snmp.VarBind{OID: vmMIBPersistent.Append(id), Type: gosnmp.Integer, Value: persistentOf(v.persistent)})
		}
		n.send(ctx, vmMIBNotifications.Append(num), vbs)
	}
	if !n.enables.Bulk() {
		return
	}
	if id > 8*maxAffectedOctets {
		n.log.Warn("VM left out of VM-MIB's bulk notification: vmId beyond vmAffectedVMs' bound",
			"vm", v.name, "vmId", id, "max", 8*maxAffectedOctets)
		return
	}
	if n.bulk == nil {
		n.bulk = map[uint32][]uint32{}
	}
	if !slices.Contains(n.bulk[num], id) {
		n.bulk[num] = append(n.bulk[num], id)
	}
}

// flushBulk sends one bulk notification per state with VMs pending, in the order of
// their numbers, and empties the lists.
func (n *notifier) flushBulk(ctx context.Context) {
	nums := make([]uint32, 0, len(n.bulk))
	for num := range n.bulk {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	for _, num := range nums {
		vbs := []snmp.VarBind{{OID: vmMIBAffectedVMs.Append(0), Type: gosnmp.OctetString, Value: affectedVMs(n.bulk[num])}}
		n.send(ctx, vmMIBNotifications.Append(num+10), vbs)
	}
	clear(n.bulk)
}

// affectedVMs is a VirtualMachineList of ids: octet i holds vmIndex 8i+1 (most
// significant bit) to 8i+8.
func affectedVMs(ids []uint32) []byte {
	b := make([]byte, (slices.Max(ids)+7)/8)
	for _, id := range ids {
		b[(id-1)/8] |= 0x80 >> ((id - 1) % 8)
	}
	return b
}
