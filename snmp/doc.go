// Package snmp is vmgate's SNMP agent engine, built on gosnmp's BER codec: UDP (and TCP)
// transports, v1/v2c community and v3 USM message processing (discovery, reports, time
// window, engine boots persisted), a small view-based access control over contexts, and
// GET/GETNEXT/GETBULK/SET dispatch to Handlers registered on subtrees. It sends
// notifications too. It knows nothing of virtual machines.
package snmp
