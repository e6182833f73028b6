// Package wire holds the JSON shapes of Keyledger's HTTP API (API.md, served as
// /api/openapi.json) and of its change feed, once for all Go code: the server renders
// them, httpapi/client decodes them, and eventstore/subscriber reads the change stream
// with them. A field added here is added for every side at once, so they cannot drift.
//
// The package imports the standard library only (TestWireImportsStandardLibraryOnly
// checks it): integrations import it through the client or the subscriber, and must not
// pull in Fiber, pgx or NATS with it. It holds data shapes and the constants that name
// their enumerations, no behaviour beyond small accessors.
//
// Enumerations are plain strings with named constants rather than defined types, so
// that a client keeps decoding values a newer server adds.
package wire
