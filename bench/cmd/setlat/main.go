// Command setlat measures what vmgate adds to a control SET over the libvirt call
// itself: N suspend/resume pairs of one running VM by SNMP (SNMPv3 authPriv SET of
// vmState paused(4)/running(2) through vmgate, one in flight at a time) and N directly
// with go-libvirt on the same libvirtd, the two taking turns pair by pair, and prints
// both and the difference:
//
//	setlat -target 127.0.0.1:16161 -user admin -auth-pass A -priv-pass P \
//	    -context qemu1 -vmid 7 -uri qemu:///system -uuid 0e2e...-0001 -n 100
//	snmp   n=200 errors=0 p50_us=2100 p90_us=2900 mean_us=2200
//	direct n=200 errors=0 p50_us=1500 p90_us=2100 mean_us=1600
//	get    n=100 errors=0 p50_us=400 p90_us=500 mean_us=420
//	added  p50_us=600 mean_us=600
//
// get is a GET of vmState through vmgate (the first after each direct pair): the SNMP
// part of a SET's cost, and vmgate's reading of its view.
// Every operation is timed alone; the VM ends running.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/bench/internal/lat"
	"github.com/vmgate/vmgate/bench/internal/target"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type opts struct {
	target, user, authPass, privPass, context string
	vmID                                      uint
	uri, uuid, socket                         string
	n                                         int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setlat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o opts
	fs.StringVar(&o.target, "target", "127.0.0.1:161", "vmgate `HOST:PORT` (loopback)")
	fs.StringVar(&o.user, "user", "admin", "read-write SNMPv3 user (SHA-256 / AES)")
	fs.StringVar(&o.authPass, "auth-pass", "", "auth passphrase")
	fs.StringVar(&o.privPass, "priv-pass", "", "priv passphrase")
	fs.StringVar(&o.context, "context", "", "the VM's host (SNMPv3 context)")
	fs.UintVar(&o.vmID, "vmid", 0, "the VM's vmId")
	fs.StringVar(&o.uri, "uri", "qemu:///system", "libvirt URI of the host, for the direct calls")
	fs.StringVar(&o.socket, "socket", "/var/run/libvirt/libvirt-sock", "libvirtd socket")
	fs.StringVar(&o.uuid, "uuid", "", "the VM's UUID")
	fs.IntVar(&o.n, "n", 100, "suspend/resume pairs per method")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.vmID == 0 || o.uuid == "" || o.n < 1 {
		fmt.Fprintln(stderr, "setlat: -vmid, -uuid and -n >= 1 are required")
		return 2
	}
	viaGateway, seen, closeSNMP, err := viaSNMP(o)
	if err != nil {
		fmt.Fprintln(stderr, "setlat: snmp:", err)
		return 1
	}
	defer closeSNMP()
	viaLibvirt, closeDirect, err := direct(o)
	if err != nil {
		fmt.Fprintln(stderr, "setlat: libvirt:", err)
		return 1
	}
	defer closeDirect()
	// The methods take turns pair by pair: a change of the machine's load falls on both.
	var snmpLat, directLat, getLat []time.Duration
	snmpErrs, directErrs := 0, 0
	for range o.n {
		ds, errs := pair(viaGateway)
		snmpLat, snmpErrs = append(snmpLat, ds...), snmpErrs+errs
		// Each pair starts on a guest that has run for the same time: a TCG guest
		// resumed a millisecond ago pauses ~0.8 ms faster than one running for 50 ms.
		time.Sleep(settle)
		ds, errs = pair(viaLibvirt)
		directLat, directErrs = append(directLat, ds...), directErrs+errs
		// The direct pause and resume reach vmgate as events: the next SET must neither
		// find vmgate's view behind (paused: the SET would be refused or skipped) nor
		// wait behind their re-reads, which the settle time leaves time for.
		time.Sleep(settle)
		get, err := seen(2)
		if err != nil {
			fmt.Fprintln(stderr, "setlat: snmp:", err)
			return 1
		}
		getLat = append(getLat, get)
		if snmpErrs > o.n || directErrs > o.n {
			fmt.Fprintf(stderr, "setlat: more than %d failures (snmp %d, libvirt %d)\n", o.n, snmpErrs, directErrs)
			return 1
		}
	}
	fmt.Fprintln(stdout, "snmp  ", lat.Summary(snmpLat, snmpErrs))
	fmt.Fprintln(stdout, "direct", lat.Summary(directLat, directErrs))
	fmt.Fprintln(stdout, "get   ", lat.Summary(getLat, 0))
	if len(snmpLat) > 0 && len(directLat) > 0 {
		fmt.Fprintf(stdout, "added  p50_us=%d mean_us=%d\n",
			(lat.Pct(snmpLat, 50) - lat.Pct(directLat, 50)).Microseconds(), (lat.Mean(snmpLat) - lat.Mean(directLat)).Microseconds())
	}
	return 0
}

// viaSNMP returns a function that sets vmState (paused(4) or running(2)) through
// vmgate, and one that waits until vmgate shows a state (GET, polling, up to 30 s) and
// returns how long its first GET took.
func viaSNMP(o opts) (set func(state int) error, seen func(state int) (time.Duration, error), closeFn func(), err error) {
	host, port, err := target.Parse(o.target)
	if err != nil {
		return nil, nil, nil, err
	}
	c := &gosnmp.GoSNMP{
		Target: host, Port: port, Version: gosnmp.Version3, Timeout: 30 * time.Second,
		SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv, ContextName: o.context,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: o.user,
			AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: o.authPass,
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: o.privPass},
	}
	if err := c.Connect(); err != nil {
		return nil, nil, nil, err
	}
	oid := fmt.Sprintf(".1.3.6.1.3.7466.1.3.1.5.%d", o.vmID)
	set = func(state int) error {
		r, err := c.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: state}})
		if err == nil && r.Error != gosnmp.NoError {
			err = fmt.Errorf("%v at %d", r.Error, r.ErrorIndex)
		}
		return err
	}
	seen = func(state int) (time.Duration, error) {
		var last any
		var first time.Duration
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			start := time.Now()
			r, err := c.Get([]string{oid})
			if err != nil {
				return 0, err
			}
			if first == 0 {
				first = time.Since(start)
			}
			if last = r.Variables[0].Value; last == state {
				return first, nil
			}
		}
		return 0, fmt.Errorf("vmState still %v after 30 s, want %d", last, state)
	}
	return set, seen, func() { _ = c.Conn.Close() }, nil
}

// direct returns a function that calls DomainSuspend (4) or DomainResume (2) with
// go-libvirt on the handle it looked up once.
func direct(o opts) (set func(state int) error, closeFn func(), err error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(o.socket)))
	if err := l.ConnectToURI(libvirt.ConnectURI(o.uri)); err != nil {
		return nil, nil, err
	}
	closeFn = func() { _ = l.Disconnect() }
	var u libvirt.UUID
	if err := parseUUID(o.uuid, &u); err != nil {
		closeFn()
		return nil, nil, err
	}
	d, err := l.DomainLookupByUUID(u)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return func(state int) error {
		if state == 4 {
			return l.DomainSuspend(d)
		}
		return l.DomainResume(d)
	}, closeFn, nil
}

// settle is the pause before each pair of SETs or of direct calls.
const settle = 50 * time.Millisecond

// pair times set(4) (pause) then set(2) (resume), each alone; failed ones are counted,
// not timed.
func pair(set func(state int) error) (ds []time.Duration, errs int) {
	for _, state := range []int{4, 2} {
		start := time.Now()
		if err := set(state); err != nil {
			errs++
			continue
		}
		ds = append(ds, time.Since(start))
	}
	return ds, errs
}

func parseUUID(s string, u *libvirt.UUID) error {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		b = append(b, s[i])
	}
	if len(b) != 32 {
		return fmt.Errorf("uuid %q: want 32 hex digits", s)
	}
	for i := range u {
		v, err := strconv.ParseUint(string(b[2*i:2*i+2]), 16, 8)
		if err != nil {
			return fmt.Errorf("uuid %q: %w", s, err)
		}
		u[i] = byte(v)
	}
	return nil
}
