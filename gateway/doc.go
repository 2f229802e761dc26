// Package gateway is vmgate's composition root: it loads and validates the
// configuration, keeps the merged view of every host (a go-memdb inventory keyed by VM
// UUID plus per-host counter snapshots), persists the index registry, dispatches SETs to
// host operations and runs everything under one errgroup (Run).
package gateway
