// Package client is a Go client for Keyledger's HTTP API (shared/API.md), so that
// integrations, the keyledger CLI and tests call typed methods instead of writing HTTP
// by hand.
//
// A Client authenticates with a bearer token (a session token from Login, a personal
// access token kl_pat_… or a service token kl_st_…); it never uses cookies, so no CSRF
// header is needed. Every method takes a context, and every error response comes back
// as a *Error carrying the problem+json fields, to be matched with errors.As or
// IsCode. Network failures come back as a *NetworkError; IsUnavailable tells an outage
// (unreachable server, timeout, 5xx) from a refusal.
//
// The package imports the standard library and httpapi/wire only (whose types it
// names, such as Secret and Notice, and which is standard library only too): it must not
// import the server's packages (httpapi, domain, commands, projections), so that an
// integration that imports it pulls in neither Fiber, pgx nor NATS.
package client
