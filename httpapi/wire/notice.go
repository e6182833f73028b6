package wire

import "time"

// ChangeNotice tells that a secret changed, as the API's change feed (SSE data) sends
// it. It never holds a value or a mask. OldVersion or NewVersion is 0 when the change
// has none (a first value, a removed one).
type ChangeNotice struct {
	Type     string `json:"type"`
	OrgID    string `json:"org_id"`
	SecretID string `json:"secret_id"`
	// Name is the secret's name in clear; empty when it could not be opened (the
	// organization's keys were shredded).
	Name       string    `json:"name"`
	Env        string    `json:"env"`
	OldVersion int       `json:"old_version"`
	NewVersion int       `json:"new_version"`
	ActorID    string    `json:"actor_id"`
	At         time.Time `json:"at"`
	Seq        uint64    `json:"seq"`
	// Part and Parts number the notices one event produced (one per environment it
	// touched), so that a consumer resuming by event sequence knows when it has them all.
	Part  int `json:"part"`
	Parts int `json:"parts"`
}

// SealedChangeNotice is a change notice as the KEYLEDGER_CHANGES stream on NATS stores
// it: Name is always empty there, and NameSealed holds the name sealed with the
// organization's data key, which only Keyledger itself opens. No secret name is stored
// in clear in any JetStream file.
type SealedChangeNotice struct {
	ChangeNotice
	NameSealed string `json:"name_sealed,omitempty"`
}

// ChangesStream is the JetStream stream that holds change notices, published after
// projection on keyledger.changes.<org_id>.<env>, so that downstream services can
// resume from their last sequence after downtime and miss nothing.
const ChangesStream = "KEYLEDGER_CHANGES"

// ChangesSubjectPrefix starts every change notice's subject.
const ChangesSubjectPrefix = "keyledger.changes"
