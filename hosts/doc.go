// Package hosts is the libvirt side of vmgate: one Supervisor per hypervisor holds a
// go-libvirt connection over its own dialers (unix, tcp, tls, ssh), watches it with a
// keepalive watchdog, reconnects with backoff, subscribes to events, resyncs after every
// (re)connect, polls bulk stats and runs the operations the gateway asks for, each under
// a deadline. It reports what it learns to a Sink. It knows nothing of SNMP.
//
// Life of a connection: dial and ConnectOpen under connect_timeout; subscribe to
// lifecycle and device events; full resync (Sink.Synced, Health Up: per host, the
// state stats list every domain with its state, two listings give persistence and
// autostart; per domain, only its XML is read; the sizes of disks outside pools that no
// bulk call gives come after it, DomainsPatched); then events mark
// domains dirty and each is re-read (Sink.DomainUpdated, or DomainRemoved when libvirt
// no longer knows it; after a pause or a resume only its state is read:
// Sink.DomainPatched), ConnectGetAllDomainStats runs every stats_interval (Sink.Stats,
// with the running domains' interface addresses; a domain whose guest agent reports a
// new OS is re-read so that its Domain.GuestOS has it; then the pool list is checked,
// after a storage pool lifecycle event (or at every round without them), and storage
// re-read when it changed or storage_interval passed: Sink.StorageSynced),
// and a ConnectGetLibVersion probe runs every keepalive_interval in which no call was
// answered; the polls and probes of all hosts are driven by one scheduler, each host at
// one of 20 phases of the interval. A probe unanswered within keepalive_timeout, or any
// call past call_timeout, closes the connection: that is the only way to make
// go-libvirt give up a call. Then Health goes Down (Since is
// kept while retries fail) and the Supervisor retries with jittered exponential backoff.
//
// Sink calls for one host never overlap and a domain's reports keep libvirt's order.
// Operations send the caller's handle (no lookup first) and, before returning, read
// what they changed (the state, memory, autostart or the XML) and report it with
// Sink.DomainPatched, so the Sink shows the change; the event that follows re-reads
// the rest.
package hosts
