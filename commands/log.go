package commands

// Log is the event log as this package's handlers and views use it: loading an
// aggregate (to its end or up to a sequence) and appending. *eventstore.Store
// implements it. It is exported for the HTTP edge, which holds the log for the views
// (LoadUser, OrganizationAt, MemberAt) and the fetch handler and declares its own
// interface around this one, so that it needs to name none of the event store's types.
type Log interface {
	eventLog
	historyLog
}
