package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/bench/internal/target"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// statePoller watches one VM's state in the view (in-process) and, when the MIB is
// served, in vmState over SNMP (v2c GET, merged context).
type statePoller struct {
	b      *bench
	u      hosts.UUID
	oid    string
	client *gosnmp.GoSNMP
	snmpOK bool
}

func (b *bench) newStatePoller(u hosts.UUID, vmID uint32) *statePoller {
	p := &statePoller{b: b, u: u, oid: mib.VirtualMachinesTable.ColumnOID(mib.ColVmState).Append(vmID).String()}
	host, port, err := target.Parse(b.addr)
	if err != nil {
		return p
	}
	c := &gosnmp.GoSNMP{Target: host, Port: port, Community: "public", Version: gosnmp.Version2c,
		Timeout: time.Second, Retries: 1, MaxOids: gosnmp.MaxOids}
	if err := c.Connect(); err != nil {
		return p
	}
	p.client = c
	_, p.snmpOK = p.snmpState()
	if !p.snmpOK {
		fmt.Printf("(vmState not served over SNMP yet: latency observed in the view only)\n")
	}
	return p
}

func (p *statePoller) snmpState() (mib.VMState, bool) {
	res, err := p.client.Get([]string{p.oid})
	if err != nil || len(res.Variables) != 1 || res.Variables[0].Type != gosnmp.Integer {
		return 0, false
	}
	return mib.VMState(gosnmp.ToBigInt(res.Variables[0].Value).Int64()), true
}

// until polls both until each shows op's state; it returns when each first did.
func (p *statePoller) until(ctx context.Context, op lifecycleOp, within time.Duration) (view, snmp time.Time, err error) {
	deadline := time.Now().Add(within)
	for view.IsZero() || (p.snmpOK && snmp.IsZero()) {
		if view.IsZero() {
			if r, ok := p.b.g.View().Read().VMByUUID("local", p.u); ok && r.Domain.State == op.state {
				view = time.Now()
			}
		}
		if p.snmpOK && snmp.IsZero() {
			if st, ok := p.snmpState(); ok && st == op.mib {
				snmp = time.Now()
			}
		}
		if time.Now().After(deadline) {
			return view, snmp, fmt.Errorf("state %d not seen within %s (view at %v, snmp at %v)", op.state, within, view, snmp)
		}
		if ctx.Err() != nil {
			return view, snmp, ctx.Err()
		}
		time.Sleep(200 * time.Microsecond) // polling resolution, not readiness
	}
	return view, snmp, nil
}
