// Package changefeed owns the change-notice stream KEYLEDGER_CHANGES
// (keyledger.changes.<org>.<env>), beside the log: the projector publishes a notice per
// secret change after projection, and the API follows an organization's notices for
// its Server-Sent Events feed (and webhooks consume them).
//
// The notices are httpapi/wire's types, the one Go shape of the feed: Publish takes a
// wire.ChangeNotice and stores a wire.SealedChangeNotice, whose name is sealed with the
// organization's data key (never in clear in a JetStream file); Follow opens it again
// into a wire.ChangeNotice. eventstore/subscriber decodes the same stored shape. The
// stream has a retention limit (WithChangesMaxAge, owned by keyledger serve). It imports
// eventstore, httpapi/wire and the NATS client.
package changefeed
