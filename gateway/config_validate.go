package gateway

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

// SetDefaults fills every zero field with its default, part by part.
func (c *Config) SetDefaults() {
	c.SNMP.SetDefaults()
	for i := range c.Hosts {
		c.Hosts[i].SetDefaults()
	}
	c.Registry.SetDefaults()
	c.Replica.SetDefaults()
}

// Validate returns every problem at once (errors.Join), each naming its path and value:
//
//	hosts[3] "kvm-07": uri: unsupported transport "foo" in "foo://h/system"
//
// Secrets never appear in messages.
func (c *Config) Validate() error {
	errs := flatten(c.SNMP.Validate())
	names := make(map[string]int, len(c.Hosts))
	for i, h := range c.Hosts {
		p := fmt.Sprintf("hosts[%d] %q", i, h.Name)
		for _, e := range flatten(h.Validate()) {
			errs = append(errs, fmt.Errorf("%s: %w", p, e))
		}
		if j, dup := names[h.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: duplicate of hosts[%d]", p, j))
			continue
		}
		names[h.Name] = i
	}
	errs = append(errs, c.validateContexts(names)...)
	if d := c.Templates.Dir; d != "" && !filepath.IsAbs(d) {
		errs = append(errs, fmt.Errorf("templates.dir: %q must be an absolute path", d))
	}
	errs = append(errs, flatten(c.Registry.Validate())...)
	errs = append(errs, flatten(c.Replica.Validate())...)
	errs = append(errs, flatten(c.HTTP.Validate())...)
	return errors.Join(errs...)
}

// validateContexts checks that every context a community or user names is "" (the
// merged cluster), "*" (users only) or a configured host.
func (c *Config) validateContexts(hosts map[string]int) []error {
	var errs []error
	known := func(ctx string) bool {
		_, ok := hosts[ctx]
		return ctx == "" || ok
	}
	for i, cm := range c.SNMP.Communities {
		if cm.Context != "*" && !known(cm.Context) {
			errs = append(errs, fmt.Errorf("snmp.communities[%d]: context: %q is not a configured host", i, cm.Context))
		}
	}
	for i, u := range c.SNMP.Users {
		for j, ctx := range u.Contexts {
			if ctx != "*" && !known(ctx) {
				errs = append(errs, fmt.Errorf("snmp.users[%d] %q: contexts[%d]: %q is not a configured host", i, u.Name, j, ctx))
			}
		}
	}
	return errs
}

// warnings lists what is allowed but unwise.
func (c *Config) warnings() []string {
	var w []string
	if len(c.Hosts) == 0 {
		w = append(w, "hosts: none configured; only the agent's own objects will be served")
	}
	for i, cm := range c.SNMP.Communities {
		if cm.Access == snmp.ReadWrite {
			w = append(w, fmt.Sprintf("snmp.communities[%d]: read-write community: SETs travel in clear text; prefer an SNMPv3 authPriv user", i))
		}
	}
	for i, u := range c.SNMP.Users {
		if u.Access == snmp.ReadWrite && u.PrivProtocol == "" {
			w = append(w, fmt.Sprintf("snmp.users[%d] %q: read-write without privacy: SETs travel unencrypted; prefer authPriv", i, u.Name))
		}
	}
	w = append(w, c.notifyWarnings()...)
	w = append(w, c.Registry.warnings()...)
	w = append(w, c.HTTP.Warnings()...)
	uris := map[string]int{}
	for i, h := range c.Hosts {
		if j, dup := uris[h.URI]; dup {
			w = append(w, fmt.Sprintf("hosts[%d] %q: uri: same as hosts[%d] (same hypervisor twice: its VMs show in both contexts)", i, h.Name, j))
		} else {
			uris[h.URI] = i
		}
		if h.TLS.InsecureSkipVerify {
			key := "tls.insecure_skip_verify"
			if u, err := hosts.ParseURI(h.URI); err == nil && u.NoVerify {
				key += " and no_verify=1 in the uri"
			}
			w = append(w, fmt.Sprintf("hosts[%d] %q: %s: the server certificate is not checked", i, h.Name, key))
		}
		if h.SSH.InsecureSkipHostKeyCheck {
			w = append(w, fmt.Sprintf("hosts[%d] %q: ssh.insecure_skip_host_key_check: the host key is not checked", i, h.Name))
		}
	}
	return w
}

// notifyWarnings: an inform or trap receiver must be configured with the keys of the
// user it gets notifications as, so whoever runs it could SET with a read-write user.
func (c *Config) notifyWarnings() []string {
	access := make(map[string]snmp.Access, len(c.SNMP.Users))
	for _, u := range c.SNMP.Users {
		access[u.Name] = u.Access
	}
	var w []string
	for i, t := range c.SNMP.Notify {
		if t.Version == "v3" && access[t.User] == snmp.ReadWrite {
			w = append(w, fmt.Sprintf("snmp.notify[%d] %q: user: %q is read-write: the receiver holds its keys and could SET; use a dedicated read-only user", i, t.Address, t.User))
		}
		for j, cm := range c.SNMP.Communities {
			if t.Version == "v2c" && t.Community != "" && t.Community == cm.Community {
				w = append(w, fmt.Sprintf("snmp.notify[%d] %q: community: same as snmp.communities[%d] (%s): every trap carries it in clear text; use a community of its own", i, t.Address, j, cm.Access))
			}
		}
	}
	return w
}
