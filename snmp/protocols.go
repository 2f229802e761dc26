package snmp

import (
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// authProtocol maps a config name to gosnmp's USM authentication protocol.
func authProtocol(s string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "")) {
	case "":
		return gosnmp.NoAuth, nil
	case "MD5":
		return gosnmp.MD5, nil
	case "SHA", "SHA1":
		return gosnmp.SHA, nil
	case "SHA224":
		return gosnmp.SHA224, nil
	case "SHA256":
		return gosnmp.SHA256, nil
	case "SHA384":
		return gosnmp.SHA384, nil
	case "SHA512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported %q (want MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512)", s)
}

// privProtocol maps a config name to gosnmp's USM privacy protocol. AES-192/AES-256 use
// the Blumenthal key extension (net-snmp's AES192/AES256); the -C variants the Reeder
// one (Cisco).
func privProtocol(s string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "")) {
	case "":
		return gosnmp.NoPriv, nil
	case "DES":
		return gosnmp.DES, nil
	case "AES", "AES128":
		return gosnmp.AES, nil
	case "AES192":
		return gosnmp.AES192, nil
	case "AES256":
		return gosnmp.AES256, nil
	case "AES192C":
		return gosnmp.AES192C, nil
	case "AES256C":
		return gosnmp.AES256C, nil
	}
	return 0, fmt.Errorf("unsupported %q (want DES, AES, AES-192 or AES-256)", s)
}
