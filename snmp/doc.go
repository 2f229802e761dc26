// Package snmp is vmgate's SNMP agent engine, built on gosnmp's BER codec: UDP (and TCP)
// transports, v1/v2c community and v3 USM message processing (discovery, reports, time
// window, engine boots persisted), a small view-based access control over contexts, and
// GET/GETNEXT/GETBULK/SET dispatch to Handlers registered on subtrees. It sends
// notifications too. It knows nothing of virtual machines.
//
// Files, by concept:
//
//	config.go     Config, Secret, Access, SetDefaults, Validate
//	engine.go     Engine, New, options, Register, SetContexts, Reload
//	transport.go  Serve: UDP/TCP listeners, TCP streams
//	transport_udp.go  UDP readers that answer what they read, with a watchdog handoff
//	transport_dgram*.go  recvfrom/sendto per reader (raw system calls on Linux)
//	process.go    one message: version, community or USM checks (RFC 3414 3.2), reports
//	usm.go        users, key localization, digest check, decryption
//	vacm.go       contexts and access per principal, v1 error mapping (RFC 3584)
//	dispatch.go   the copy-on-write registry of subtrees, GET and GETNEXT
//	pdu.go        GET/GETNEXT/GETBULK responses, size limits (tooBig, trimming)
//	walk.go       Walker, VarBindWriter: a GETBULK repeater's successors in one pass
//	set.go        two-phase SET through Setter
//	encode.go     response messages in pooled buffers (v1/v2c, v3 with encryption and HMAC)
//	message.go    BER message, scopedPDU and PDU decoding; ber.go the TLV reader
//	builtin.go    SNMPv2-MIB system and snmp groups, engine, MPD, target, usmStats
//	notify.go     v2c/v3 traps and v3 informs
//	state.go      engine ID and boots in state_dir/engine.yaml
//
// Security: a v3 request that fails a check (unknown engine ID or user, unsupported
// level, wrong digest, outside the 150 s time window, undecryptable) is answered only
// by a Report (when reportable) and never reaches a Handler. A user configured with
// authentication or privacy gets data only at that level. Communities are none by
// default; an unknown community gets no answer.
package snmp
