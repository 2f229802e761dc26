// Package gateway is vmgate's composition root: it loads and validates the
// configuration (Config, LoadConfig), builds the parts (the SNMP engine, the index
// registry, the merged view, the template store, the SET executor, one supervisor per
// host) and runs them under one errgroup until the context ends (Run), applying
// reloads. The parts live in packages of one concept each below it: registry,
// templates, view, mibview, control. Only cmd imports it.
package gateway
