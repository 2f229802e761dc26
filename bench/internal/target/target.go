// Package target parses the HOST:PORT of an SNMP agent the benchmark commands talk to,
// into the host and port gosnmp wants.
package target

import (
	"fmt"
	"net"
	"strconv"
)

// Parse splits s, HOST:PORT, into its host and UDP port.
func Parse(s string) (string, uint16, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("%s: bad port: %w", s, err)
	}
	return host, uint16(port), nil
}
