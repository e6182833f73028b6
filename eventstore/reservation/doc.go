// Package reservation reserves unique values (a secret's name in its organization)
// atomically with NATS KV Create, in the KEYLEDGER_NAMES bucket beside the log, each
// under a keyed hash of the value (the scope's name key); it reads, moves and then
// deletes the KEYLEDGER_RESERVATIONS bucket that earlier versions keyed with bare hashes.
// The bucket is an index derivable from the log: the command handlers (commands'
// nameReservations interface) take over a reservation whose holder's events say it is
// gone. It imports eventstore and the NATS client.
package reservation
