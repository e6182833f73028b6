// Package embedded runs a NATS server with JetStream inside the process (serve --dev,
// single-node installs and every test): no listening port, every acknowledged write on
// disk before it counts (fsynced by the server, or with GroupSync by Sync, which
// concurrent writes share), and an exclusive lock on its data directory so that two processes never run JetStream on the
// same files. It is the only package that imports nats-server, so that the log's
// package, and eventstore/subscriber, which downstream services build, do not pull the
// server into their builds. It imports nothing of Keyledger.
package embedded
