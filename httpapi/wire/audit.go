package wire

import "time"

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
)

// AuditItem is one entry of an organization's audit trail. The secret and environment
// fields are null on entries that concern none.
type AuditItem struct {
	ID         string    `json:"id"`
	Seq        uint64    `json:"seq"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	Actor      Actor     `json:"actor"`
	SecretID   *string   `json:"secret_id"`
	SecretName *string   `json:"secret_name"`
	Env        *string   `json:"env"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	// Details is a sentence the server may add, such as a role change.
	Details string `json:"details,omitempty"`
	// Names are the secrets a secrets.fetched entry handed out.
	Names []string `json:"names,omitempty"`
}

// AuditVerification is the result of checking an organization's audit hash chain.
type AuditVerification struct {
	OK      bool   `json:"ok"`
	Checked int    `json:"checked"`
	Head    string `json:"head"`
	// BrokenSeq and BrokenID name the first entry that does not check out, and Reason
	// says why; empty when OK.
	BrokenSeq uint64 `json:"broken_seq,omitempty"`
	BrokenID  string `json:"broken_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}
