// Package coord coordinates the SETs of replicas that serve the same hosts through one
// etcd cluster (registry.backend etcd): it is the snmp.SetCoordinator of each
// replica's engine. A SET runs under cluster-wide locks of the hosts it changes (and
// a global one for the templates and for new rows, whose numbers are cluster-wide),
// and the replay record of the SNMP engine is shared through etcd.
package coord
