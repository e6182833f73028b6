// Package lease is a named, expiring claim in the KEYLEDGER_LEASES KV bucket beside the
// log: which replica runs a singleton job (the projector). The holder renews it at the
// revision it last wrote; revisions only grow, so a holder's revision is a fencing
// token for what it writes elsewhere (the projections' checkpoint). LeaseStatus is what
// a holder last knew of it, for /metrics and /readyz (through projections.LeaseStatus).
// It imports eventstore and the NATS client.
package lease
