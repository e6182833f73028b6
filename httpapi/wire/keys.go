package wire

import "time"

// DataKey is one version of an organization's data key (GET /orgs/{org}/keys). State
// is active (new data is sealed with it), retired (it still opens what it sealed) or
// destroyed (the organization was erased).
type DataKey struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	State     string    `json:"state"`
}

// DataKeyRotated answers POST /orgs/{org}/keys/rotate: the version new data is sealed
// with from now on.
type DataKeyRotated struct {
	Version int `json:"version"`
}
