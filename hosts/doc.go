// Package hosts is the libvirt side of vmgate: one Supervisor per hypervisor holds a
// go-libvirt connection over its own dialers (unix, tcp, tls, ssh), watches it with a
// keepalive watchdog, reconnects with backoff, subscribes to events, resyncs after every
// (re)connect, polls bulk stats and runs the operations the gateway asks for, each under
// a deadline. It reports what it learns to a Sink. It knows nothing of SNMP.
package hosts
