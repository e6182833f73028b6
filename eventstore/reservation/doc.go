// Package reservation reserves unique values (a secret's name in its organization)
// atomically with NATS KV Create, in the KEYLEDGER_RESERVATIONS bucket beside the log.
// The bucket is an index derivable from the log: the command handlers (commands'
// nameReservations interface) take over a reservation whose holder's events say it is
// gone. It imports eventstore and the NATS client.
package reservation
