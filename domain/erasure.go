package domain

// AggregateErasure is the platform-scope aggregate kind that records an organization's
// erasure: one aggregate per erased organization, its id the organization's id, in
// the platform scope so that the record is sealed with the platform's key and not
// with the organization's, which the erasure destroys.
const AggregateErasure = "erasure"

// AuditOrgErased is the action of an erasure, in the platform audit trail (and of a
// refused attempt, in the organization's).
const AuditOrgErased = "org.erased"

// OrganizationErased records that an organization was crypto-shredded: its data keys
// destroyed, so that its events, which stay in the log, can no longer be opened. It
// holds the organization's id only: its name was the organization's data.
type OrganizationErased struct {
	OrgID string `json:"org_id"`
}

// EventType names the event in the log.
func (OrganizationErased) EventType() string { return "OrganizationErased" }

// Erase decides erasing the organization: only an owner (or a platform super-admin)
// may, and only by typing the organization's exact name as confirm.
func (o *Organization) Erase(p Principal, confirm string) (Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	if p.Priority() < RoleOwner.Priority() {
		return nil, Errorf(CodeForbidden, "Only an owner can delete the organization.")
	}
	if confirm == "" {
		return nil, Invalid("confirm", "is required: type the organization's name")
	}
	if confirm != o.name {
		return nil, Invalid("confirm", "must be the organization's name, exactly")
	}
	return OrganizationErased{OrgID: o.id}, nil
}
