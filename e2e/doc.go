// Package e2e tests the built vmgate binary end to end, the way operators use it: net-snmp's
// command-line tools (snmpget, snmpgetnext, snmpbulkwalk, snmpset) and pysnmp drive a
// vmgate process started from a generated config, over loopback UDP.
//
// The helpers (Build, Start, Gateway, Cred, Gateway.Run...) are exported so other test
// files can start a gateway with given hosts and run SNMP commands against it:
//
//	gw := e2e.Start(t, bin, e2e.Config{Communities: []e2e.Community{{"public", "read-only", ""}}})
//	vars := gw.MustGet(t, e2e.V2c("public"), "1.3.6.1.2.1.1.3.0")
package e2e
