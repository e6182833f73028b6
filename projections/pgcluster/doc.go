// Package pgcluster starts and stops a throwaway PostgreSQL cluster from the
// PostgreSQL binaries installed on the machine.
//
// It owns the life of that one server process: finding (and, as root, installing)
// the binaries, initdb, starting postgres on 127.0.0.1 with trust authentication,
// waiting until it accepts connections, and stopping it. `keyledger serve --dev`
// uses it for a local database that keeps its data across restarts, and
// projections/pgtest uses it for tests when no other PostgreSQL is available.
//
// The server is a child process of the caller. On Linux it receives SIGINT (a
// fast shutdown) when the caller dies, so a crashed or killed caller leaves no
// postgres behind; a server left running in the same directory by some other
// path is stopped by the next Start.
//
// PostgreSQL refuses to run as root, so when the caller is root initdb and
// postgres run as an unprivileged account (Options.OSUser, default "postgres")
// that owns the cluster directory.
//
// This package must not import the domain, eventstore or any read-model code: it
// knows about processes and directories, not about Keyledger's data.
package pgcluster
