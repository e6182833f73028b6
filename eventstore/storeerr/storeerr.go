// Package storeerr names the outcomes of the event log and of the NATS stores beside it
// that callers act on: a version conflict, a missing key, a log that did not answer.
// They are sentinel errors in a package that imports the standard library only, so
// that a consumer that must not link NATS (httpapi) tells them apart with errors.Is
// while the NATS-backed packages (eventstore, eventstore/natskv) return them.
//
// Each producer re-exports its sentinel under its old name (eventstore.ErrVersionConflict
// is storeerr.ErrVersionConflict), so errors.Is matches either name. Whether a raw
// NATS error means "unavailable" is NATS knowledge and stays in eventstore.IsUnavailable;
// a consumer without NATS is handed that function by its wiring.
package storeerr

import "errors"

// ErrVersionConflict means the aggregate changed since it was loaded.
var ErrVersionConflict = errors.New("eventstore: version conflict")

// ErrUnavailable means the log did not answer completely in time: a load that could
// not be read to its end, for example while the stream elects a new leader. It is not
// "no events": the caller may retry later, and must not act on a partial history.
var ErrUnavailable = errors.New("eventstore: the event log is unavailable")

// ErrNotFound means a key-value bucket has no such key.
var ErrNotFound = errors.New("eventstore: key not found")

// ErrErased means an event or an aggregate belongs to an organization that was erased
// (crypto-shredded): its keys are gone, and it answers as if it had never existed.
var ErrErased = errors.New("eventstore: organization erased")
