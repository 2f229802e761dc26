package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

const (
	notifyTimeout = 5 * time.Second
	notifyRetries = 2
)

// Notify sends a notification to every configured target: a v2c trap, a v3 trap
// (authoritative: our engine ID, the user's keys) or a v3 inform (the receiver is
// authoritative: its engine ID is discovered first; retried; waits for the response).
// vbs follow sysUpTime.0 and snmpTrapOID.0. It returns every target's failure.
func (e *Engine) Notify(ctx context.Context, trapOID OID, vbs []VarBind) error {
	sec := e.sec.Load()
	pdus := make([]gosnmp.SnmpPDU, 0, len(vbs)+2)
	pdus = append(pdus,
		gosnmp.SnmpPDU{Name: oidSysUpTime.String(), Type: gosnmp.TimeTicks, Value: e.sysUpTime()},
		gosnmp.SnmpPDU{Name: oidTrapOID.String(), Type: gosnmp.ObjectIdentifier, Value: trapOID.String()})
	for _, vb := range vbs {
		pdus = append(pdus, gosnmp.SnmpPDU{Name: vb.OID.String(), Type: vb.Type, Value: vb.Value})
	}
	// Targets are served in parallel: an unreachable inform receiver retrying must
	// not delay the others.
	errs := make([]error, len(sec.notify))
	var wg sync.WaitGroup
	for i, t := range sec.notify {
		wg.Go(func() {
			if err := e.notifyOne(ctx, sec, t, slices.Clone(pdus)); err != nil {
				errs[i] = fmt.Errorf("notify[%d] %s: %w", i, t.Address, err)
				e.log.Warn("snmp notification failed", "target", t.Address, "trap_oid", trapOID.String(), "err", err)
				return
			}
			e.log.Debug("snmp notification sent", "target", t.Address, "trap_oid", trapOID.String(), "inform", t.Inform)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Engine) notifyOne(ctx context.Context, sec *security, t Target, pdus []gosnmp.SnmpPDU) error {
	hostport, err := parseTarget(t.Address)
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return fmt.Errorf("port %q: %w", portStr, err)
	}
	x := &gosnmp.GoSNMP{
		Target:    host,
		Port:      uint16(port),
		Transport: "udp",
		Timeout:   e.notifyTO,
		Retries:   notifyRetries,
		Context:   ctx,
		MaxOids:   gosnmp.MaxOids,
	}
	switch t.Version {
	case "v3":
		u, ok := sec.users[t.User]
		if !ok {
			return fmt.Errorf("user %q not configured", t.User)
		}
		x.Version = gosnmp.Version3
		x.SecurityModel = gosnmp.UserSecurityModel
		x.MsgFlags = gosnmp.SnmpV3MsgFlags(u.level())
		sp := &gosnmp.UsmSecurityParameters{
			UserName:                 u.name,
			AuthenticationProtocol:   u.auth,
			AuthenticationPassphrase: u.authPass,
			PrivacyProtocol:          u.priv,
			PrivacyPassphrase:        u.privPass,
		}
		x.SecurityParameters = sp
		if !t.Inform { // we are authoritative for traps (RFC 3414 section 1.5.1)
			sp.AuthoritativeEngineID = string(e.engineID)
			sp.AuthoritativeEngineBoots = e.boots
			sp.AuthoritativeEngineTime = e.engineTime()
			sp.SecretKey, sp.PrivacyKey = u.authKey, u.privKey
			x.ContextEngineID = string(e.engineID)
			break
		}
		// The receiver is authoritative: reuse its last discovery, else discover.
		k := informPeerKey{addr: t.Address, u: u}
		cached := e.informs.apply(k, x, sp)
		err := sendTrap(x, pdus, true)
		if err != nil && cached {
			// A receiver that dropped the inform silently (another engine ID, keys of
			// another configuration...): once more, with a fresh discovery.
			e.informs.forget(k)
			e.log.Debug("snmp inform with the receiver's remembered engine ID failed; discovering again",
				"target", t.Address, "err", err)
			x.SecurityParameters, x.ContextEngineID = &gosnmp.UsmSecurityParameters{UserName: sp.UserName,
				AuthenticationProtocol: sp.AuthenticationProtocol, AuthenticationPassphrase: sp.AuthenticationPassphrase,
				PrivacyProtocol: sp.PrivacyProtocol, PrivacyPassphrase: sp.PrivacyPassphrase}, ""
			err = sendTrap(x, pdus, true)
		}
		if err != nil {
			e.informs.forget(k)
			return err
		}
		e.informs.learn(k, x)
		return nil
	default:
		x.Version = gosnmp.Version2c
		x.Community = string(t.Community)
	}
	return sendTrap(x, pdus, t.Inform)
}

// sendTrap sends one trap or inform over a new socket of x's.
func sendTrap(x *gosnmp.GoSNMP, pdus []gosnmp.SnmpPDU, inform bool) error {
	if err := x.Connect(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer x.Conn.Close()
	_, err := x.SendTrap(gosnmp.SnmpTrap{Variables: pdus, IsInform: inform})
	return err
}
