// Package reservation keeps the reservations of unique values (a secret's name in its
// organization) made atomically with NATS KV Create, in the KEYLEDGER_NAMES bucket
// beside the log, each under a keyed hash of the value (the scope's name key). Creates
// no longer write them (a secret's id derives from its name, and the log keeps names
// unique), but they read those earlier versions wrote: one held for a live secret
// still holds its name. It reads, moves and then deletes the KEYLEDGER_RESERVATIONS
// bucket that versions before those keyed with bare hashes. It imports eventstore and
// the NATS client.
package reservation
