package gateway

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/web"
	"github.com/vmgate/vmgate/hosts"
)

// newWeb prepares the HTTP server when http.listen is set (nil otherwise).
func newWeb(g *Gateway) (*web.Server, error) {
	cfg := g.cfg.HTTP
	if !cfg.Enabled() {
		return nil, nil
	}
	h := promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4})
	return web.New(cfg, h, g.status, g.logger.With("component", "http"))
}

// serveWeb runs the HTTP server until ctx is done.
func (g *Gateway) serveWeb(ctx context.Context) error {
	if g.web == nil {
		return nil
	}
	return g.web.Serve(ctx)
}

// HTTPAddr returns the HTTP server's bound address, nil when it is off or not yet
// listening.
func (g *Gateway) HTTPAddr() net.Addr {
	if g.web == nil {
		return nil
	}
	return g.web.Addr()
}

// status is what the landing page, /readyz and /prometheus/sd show: every configured
// host's connection and, for readiness, whatever is not there yet (a host's first
// sync, the SNMP listener, the etcd registry).
func (g *Gateway) status() web.Status {
	cfg := g.Config()
	st := web.Status{Version: g.opts.Version, SDTarget: g.sdTarget(cfg), Hosts: make([]web.Host, 0, len(cfg.Hosts))}
	select {
	case <-g.engine.Ready():
	default:
		st.NotReady = append(st.NotReady, "snmp: not listening yet")
	}
	if e, ok := g.reg.(*registry.Etcd); ok && e.Degraded() {
		st.NotReady = append(st.NotReady, "registry: etcd unavailable")
	}
	snap := g.view.Read()
	for _, hc := range cfg.Hosts {
		h := web.Host{Name: hc.Name, URI: hosts.PublicURI(hc.URI)}
		if sup, ok := g.hosts.get(hc.Name); ok {
			hl := sup.Health()
			h.State, h.Since, h.LastSync, h.LastError = hl.Status.String(), hl.Since, hl.LastSync, hl.LastError
			if hl.Status == hosts.Connecting {
				st.NotReady = append(st.NotReady, fmt.Sprintf("host %s: first sync not done", hc.Name))
			}
		} else {
			h.State, h.LastError = hosts.Down.String(), "not started: see the log"
		}
		if e, ok := snap.Host(hc.Name); ok {
			h.VMs = e.VMs
		}
		st.Hosts = append(st.Hosts, h)
	}
	return st
}

// sdTarget is the SNMP address /prometheus/sd hands out: http.sd_target, else the
// first UDP address the engine listens on (configured until bound).
func (g *Gateway) sdTarget(cfg *Config) string {
	if cfg.HTTP.SDTarget != "" {
		return cfg.HTTP.SDTarget
	}
	for _, a := range g.engine.Addrs() {
		if strings.HasPrefix(a.Network(), "udp") {
			return a.String()
		}
	}
	for _, l := range cfg.SNMP.Listen {
		if tr, addr, ok := strings.Cut(l, ":"); ok && strings.HasPrefix(tr, "udp") {
			return addr
		}
	}
	return ""
}
