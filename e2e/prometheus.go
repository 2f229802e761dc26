package e2e

import (
	"fmt"
	"strings"
)

// The Prometheus kit (deploy/prometheus): snmp.yml is snmp_exporter's generator output
// for generator.yml in the 0.21 layout Debian's prometheus-snmp-exporter reads (modules
// at the top level, each with its own auth), followed by one module per vmgate host
// context that repeats the generated one with a context_name.

// SnmpHostsMarker starts the per-host modules in snmp.yml; everything above it is
// generated.
const SnmpHostsMarker = "# Host contexts:"

// SnmpYmlHeader heads the generated part of snmp.yml.
const SnmpYmlHeader = `# VIRTUAL-MACHINES-MIB (vmgate) for Debian's prometheus-snmp-exporter 0.21.
# Generated from generator.yml by snmp_exporter's generator, converted to the 0.21
# layout (TestSnmpYmlGenerated checks it; -update-snmp rewrites it). Edit generator.yml,
# not this part.
`

// SnmpHostModule is the module of one host context: the generated module "vmgate" with
// context_name set (YAML merge keys, which 0.21 reads).
func SnmpHostModule(host string) string {
	return fmt.Sprintf("vmgate@%s:\n  <<: *vmgate\n  auth: {<<: *vmgate_auth, context_name: %s}\n", host, host)
}

// SnmpYmlFor returns kit, the checked-in snmp.yml, with its per-host modules replaced
// by those of hosts.
func SnmpYmlFor(kit string, hosts []string) (string, error) {
	i := strings.Index(kit, SnmpHostsMarker)
	if i < 0 {
		return "", fmt.Errorf("snmp.yml has no %q line", SnmpHostsMarker)
	}
	end := strings.IndexByte(kit[i:], '\n')
	var b strings.Builder
	b.WriteString(kit[:i+end+1])
	for _, h := range hosts {
		b.WriteString(SnmpHostModule(h))
	}
	return b.String(), nil
}

// ConvertGenerated turns the generator's output (auths and modules, 0.23 and later)
// into snmp.yml's generated part: module "vmgate" at the top level with anchor
// &vmgate, version 3 and the auth "vmgate_v3" (anchor &vmgate_auth) without the
// generator's default community.
func ConvertGenerated(gen string) (string, error) {
	auths, modules, ok := strings.Cut(gen, "\nmodules:\n")
	if !ok {
		return "", fmt.Errorf("generator output has no modules")
	}
	_, auth, ok := strings.Cut(auths, "\n  vmgate_v3:\n")
	if !ok {
		return "", fmt.Errorf("generator output has no auth vmgate_v3")
	}
	var b strings.Builder
	b.WriteString(SnmpYmlHeader)
	for _, l := range strings.Split(modules, "\n") {
		l = strings.TrimPrefix(l, "  ")
		if l != "vmgate:" {
			if l != "" {
				b.WriteString(l + "\n")
			}
			continue
		}
		b.WriteString("vmgate: &vmgate\n  version: 3\n  auth: &vmgate_auth\n")
		for _, a := range strings.Split(strings.TrimRight(auth, "\n"), "\n") {
			if a = strings.TrimPrefix(a, "    "); a != "community: public" && a != "version: 3" {
				b.WriteString("    " + a + "\n")
			}
		}
	}
	return b.String(), nil
}
