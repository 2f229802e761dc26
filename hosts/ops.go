package hosts

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// Apply says where a change takes effect; the values are libvirt's
// VIR_DOMAIN_AFFECT_* (and VIR_DOMAIN_MEM/VCPU_MAXIMUM) flags. Zero means libvirt's
// "current": live if running, config otherwise.
type Apply int

const (
	ApplyLive    Apply = 1
	ApplyConfig  Apply = 2
	ApplyMaximum Apply = 4 // SetMemory and SetVCPUs: change the maximum
)

// Operations below run on the live connection under ctx and call_timeout. They fail
// with ErrNotConnected when the host is not up, ErrTimeout, ErrNotFound for an unknown
// UUID, or libvirt's own error (errors.As(err, &libvirt.Error{})). After a successful
// change they read what they changed and report it to the Sink (DomainPatched: the
// state after a state change, memory, autostart; the XML after a rename, a vCPU or a
// device change; the whole domain after an undefine), so the view shows the change
// when they return; the lifecycle or device event that follows re-reads the rest. A
// pause or a resume reports the state its success stands for, which its event then
// confirms (stateOp).

// Define defines (or redefines) a persistent domain from XML and returns it.
func (s *Supervisor) Define(ctx context.Context, doc string) (Domain, error) {
	c, err := s.conn()
	if err != nil {
		return Domain{}, err
	}
	dom, err := callT(ctx, c, "DomainDefineXML", func(l *lv) (libvirt.Domain, error) {
		return l.DomainDefineXMLFlags(doc, libvirt.DomainDefineValidate)
	})
	if err != nil {
		return Domain{}, s.opErr(err)
	}
	d, found, err := s.update(ctx, c, UUID(dom.UUID))
	if err == nil && !found {
		err = fmt.Errorf("domain %q vanished right after define: %w", dom.Name, ErrNotFound)
	}
	return d, s.opErr(err)
}

// Undefine removes a domain's persistent config (keeping NVRAM files); a running
// domain becomes transient.
func (s *Supervisor) Undefine(ctx context.Context, id Target) error {
	flags := libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata
	if s.uri.Driver == "qemu" {
		flags |= libvirt.DomainUndefineKeepNvram
	}
	return s.domainOp(ctx, id, "undefine", 0, func(l *lv, d libvirt.Domain) error {
		return l.DomainUndefineFlags(d, flags)
	})
}

// Start boots a defined, inactive domain.
func (s *Supervisor) Start(ctx context.Context, id Target) error {
	return s.domainOpT(ctx, id, "start", FieldState, func(l *lv, d libvirt.Domain) (libvirt.Domain, error) {
		return l.DomainCreateWithFlags(d, 0) // the handle with the new ID
	})
}

// Suspend pauses a running domain.
func (s *Supervisor) Suspend(ctx context.Context, id Target) error {
	return s.stateOp(ctx, id, "suspend", eventPaused, func(l *lv, d libvirt.Domain) error { return l.DomainSuspend(d) })
}

// Resume continues a paused domain.
func (s *Supervisor) Resume(ctx context.Context, id Target) error {
	return s.stateOp(ctx, id, "resume", eventResumed, func(l *lv, d libvirt.Domain) error { return l.DomainResume(d) })
}

// Shutdown asks the guest to power off (ACPI); it returns before the guest is off.
func (s *Supervisor) Shutdown(ctx context.Context, id Target) error {
	return s.domainOp(ctx, id, "shutdown", FieldState, func(l *lv, d libvirt.Domain) error { return l.DomainShutdown(d) })
}

// Destroy powers a domain off at once.
func (s *Supervisor) Destroy(ctx context.Context, id Target) error {
	return s.domainOp(ctx, id, "destroy", FieldState, func(l *lv, d libvirt.Domain) error { return l.DomainDestroy(d) })
}

// PMSuspend asks the guest agent to suspend the guest to RAM (no duration limit).
func (s *Supervisor) PMSuspend(ctx context.Context, id Target) error {
	return s.domainOp(ctx, id, "pm-suspend", FieldState, func(l *lv, d libvirt.Domain) error {
		return l.DomainPmSuspendForDuration(d, uint32(libvirt.NodeSuspendTargetMem), 0, 0)
	})
}

// PMWakeup wakes a guest suspended by power management.
func (s *Supervisor) PMWakeup(ctx context.Context, id Target) error {
	return s.domainOp(ctx, id, "pm-wakeup", FieldState, func(l *lv, d libvirt.Domain) error { return l.DomainPmWakeup(d, 0) })
}

// SetAutostart sets whether libvirtd starts the (persistent) domain when it starts.
func (s *Supervisor) SetAutostart(ctx context.Context, id Target, on bool) error {
	flag := int32(0)
	if on {
		flag = 1
	}
	return s.domainOp(ctx, id, "autostart", FieldAutostart, func(l *lv, d libvirt.Domain) error { return l.DomainSetAutostart(d, flag) })
}

// Rename renames an inactive domain.
func (s *Supervisor) Rename(ctx context.Context, id Target, name string) error {
	return s.domainOp(ctx, id, "rename", FieldXML, func(l *lv, d libvirt.Domain) error {
		_, err := l.DomainRename(d, libvirt.OptString{name}, 0)
		return err
	})
}

// SetMemory sets the current memory (balloon) in KiB, or the maximum with ApplyMaximum.
func (s *Supervisor) SetMemory(ctx context.Context, id Target, kib uint64, apply Apply) error {
	return s.domainOp(ctx, id, "set memory", FieldMemory, func(l *lv, d libvirt.Domain) error {
		return l.DomainSetMemoryFlags(d, kib, uint32(apply))
	})
}

// SetMaxMemory sets <memory> in the persistent config, in KiB.
func (s *Supervisor) SetMaxMemory(ctx context.Context, id Target, kib uint64) error {
	return s.SetMemory(ctx, id, kib, ApplyMaximum|ApplyConfig)
}

// SetVCPUs sets the number of vCPUs, or the maximum with ApplyMaximum.
func (s *Supervisor) SetVCPUs(ctx context.Context, id Target, n uint32, apply Apply) error {
	return s.domainOp(ctx, id, "set vcpus", FieldXML, func(l *lv, d libvirt.Domain) error {
		return l.DomainSetVcpusFlags(d, n, uint32(apply))
	})
}

// AttachDevice adds a device given as XML (<disk>, <interface>...).
func (s *Supervisor) AttachDevice(ctx context.Context, id Target, doc string, apply Apply) error {
	return s.domainOp(ctx, id, "attach device", FieldXML, func(l *lv, d libvirt.Domain) error {
		return l.DomainAttachDeviceFlags(d, doc, uint32(apply))
	})
}

// DetachDevice removes the device the XML matches. Live detach of some devices needs
// the guest's cooperation and completes later (a device-removed event follows).
func (s *Supervisor) DetachDevice(ctx context.Context, id Target, doc string, apply Apply) error {
	return s.domainOp(ctx, id, "detach device", FieldXML, func(l *lv, d libvirt.Domain) error {
		return l.DomainDetachDeviceFlags(d, doc, uint32(apply))
	})
}

// UpdateDevice changes a device in place (e.g. a cdrom's media, a NIC's link state).
func (s *Supervisor) UpdateDevice(ctx context.Context, id Target, doc string, apply Apply) error {
	return s.domainOp(ctx, id, "update device", FieldXML, func(l *lv, d libvirt.Domain) error {
		return l.DomainUpdateDeviceFlags(d, doc, libvirt.DomainDeviceModifyFlags(apply))
	})
}

// Refresh re-reads one domain and reports it (or its removal) to the Sink.
func (s *Supervisor) Refresh(ctx context.Context, id UUID) error {
	c, err := s.conn()
	if err != nil {
		return err
	}
	return s.opErr(s.refresh(ctx, c, id))
}

// DomainXML returns the domain's XML, the persistent config when inactive is true.
// Secure fields (passwords) are never requested.
func (s *Supervisor) DomainXML(ctx context.Context, id Target, inactive bool) (string, error) {
	var flags libvirt.DomainXMLFlags
	if inactive {
		flags = libvirt.DomainXMLInactive
	}
	return withDomainT(ctx, s, id, "get xml", func(l *lv, d libvirt.Domain) (string, error) {
		return l.DomainGetXMLDesc(d, flags)
	})
}

// Capabilities returns the host's capabilities XML.
func (s *Supervisor) Capabilities(ctx context.Context) (string, error) {
	return withConnT(ctx, s, "ConnectGetCapabilities", func(l *lv) (string, error) {
		return l.ConnectGetCapabilities()
	})
}

// NodeInfo reads the host's CPU and memory facts.
func (s *Supervisor) NodeInfo(ctx context.Context) (NodeInfo, error) {
	return withConnT(ctx, s, "NodeGetInfo", nodeInfo)
}

// Pools reads all storage pools.
func (s *Supervisor) Pools(ctx context.Context) ([]Pool, error) {
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	p, _, err := s.readStorage(ctx, c)
	return p, s.opErr(err)
}

// Volumes reads the volumes of all active pools.
func (s *Supervisor) Volumes(ctx context.Context) ([]Volume, error) {
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	_, v, err := s.readStorage(ctx, c)
	return v, s.opErr(err)
}

// PollStats reads the counters of all domains now and reports them to the Sink.
func (s *Supervisor) PollStats(ctx context.Context) (*Stats, error) {
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	st, err := s.pollStats(ctx, c)
	return st, s.opErr(err)
}

// withConnT runs fn on the live connection.
func withConnT[T any](ctx context.Context, s *Supervisor, what string, fn func(*lv) (T, error)) (T, error) {
	c, err := s.conn()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := callT(ctx, c, what, fn)
	return v, s.opErr(err)
}

// Target is the domain an operation acts on: its UUID, or Named when the caller knows
// its name too. libvirt finds a domain by its UUID alone; the name only shows in its
// error messages.
type Target interface {
	handle() libvirt.Domain
}

func (u UUID) handle() libvirt.Domain { return libvirt.Domain{UUID: libvirt.UUID(u), ID: -1} }

// Named is a domain's UUID with the name the caller last saw it under.
type Named struct {
	UUID UUID
	Name string
}

func (n Named) handle() libvirt.Domain {
	return libvirt.Domain{Name: n.Name, UUID: libvirt.UUID(n.UUID), ID: -1}
}

// withDomainT runs fn on the domain's handle, in one deadline-bound call, with no
// lookup first: libvirt finds the domain by the UUID the handle carries. Only when
// libvirt answers that it has no such domain is the domain looked up, and fn run
// again on what the lookup found.
func withDomainT[T any](ctx context.Context, s *Supervisor, id Target, what string, fn func(*lv, libvirt.Domain) (T, error)) (T, error) {
	h := id.handle()
	return withConnT(ctx, s, fmt.Sprintf("%s %s", what, UUID(h.UUID)), func(l *lv) (T, error) {
		v, err := fn(l, h)
		if !libvirt.IsNotFound(err) {
			return v, err
		}
		d, lerr := l.DomainLookupByUUID(h.UUID)
		if lerr != nil {
			return v, lerr
		}
		return fn(l, d)
	})
}

// domainOp is withDomainT followed by a read of the fields of the domain the
// operation changed (patch), or of the whole domain for fields 0.
func (s *Supervisor) domainOp(ctx context.Context, id Target, what string, f Fields, fn func(*lv, libvirt.Domain) error) error {
	return s.domainOpT(ctx, id, what, f, func(l *lv, d libvirt.Domain) (libvirt.Domain, error) { return d, fn(l, d) })
}

// domainOpT is domainOp for an operation that returns the domain's handle as it is
// after the operation (with the ID of the domain it started).
func (s *Supervisor) domainOpT(ctx context.Context, id Target, what string, f Fields, fn func(*lv, libvirt.Domain) (libvirt.Domain, error)) error {
	return s.opThenReport(ctx, id, what, fn, func(c *conn, dom libvirt.Domain) error {
		if f != 0 {
			return s.patch(ctx, c, dom, f)
		}
		_, _, err := s.update(ctx, c, UUID(dom.UUID))
		return err
	})
}

// opThenReport runs fn (withDomainT), then report on the live connection; a failed
// report is logged, not returned: the operation itself succeeded.
func (s *Supervisor) opThenReport(ctx context.Context, id Target, what string, fn func(*lv, libvirt.Domain) (libvirt.Domain, error),
	report func(c *conn, dom libvirt.Domain) error) error {
	dom, err := withDomainT(ctx, s, id, what, fn)
	if err != nil {
		return err
	}
	c, err := s.conn()
	if err != nil {
		return err
	}
	if err := report(c, dom); err != nil {
		s.log.Warn("refresh after operation failed", "op", what, "uuid", UUID(dom.UUID).String(), "err", err)
	}
	return nil
}

func (s *Supervisor) opErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("host %q: %w", s.cfg.Name, err)
}
