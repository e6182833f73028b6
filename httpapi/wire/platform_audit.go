package wire

import "time"

// PlatformAuditItem is one entry of the platform's audit trail (GET /admin/audit),
// which records what happens to organizations as a whole, such as their erasure.
// OrgID names the organization; its name is not kept: it was the organization's data.
type PlatformAuditItem struct {
	ID        string    `json:"id"`
	Seq       uint64    `json:"seq"`
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Actor     Actor     `json:"actor"`
	OrgID     string    `json:"org_id"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// EraseOrgRequest is the body of DELETE /orgs/{org}: the organization's exact name,
// typed to confirm.
type EraseOrgRequest struct {
	Confirm string `json:"confirm"`
}
