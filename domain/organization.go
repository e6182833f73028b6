package domain

import (
	"context"
	"maps"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxOrganizationNameLength bounds an organization's name.
const MaxOrganizationNameLength = 100

// Organization is the aggregate of one organization: its name, reveal policy and
// members with their roles. Membership lives here so that "an org always keeps one
// owner" is decided inside one aggregate, under one version.
type Organization struct {
	id           string
	name         string
	revealPolicy RevealPolicy
	members      map[string]Role
	createdAt    time.Time
	exists       bool
}

// NewOrganization returns an empty organization aggregate, ready to replay into.
func NewOrganization(id string) *Organization {
	return &Organization{id: id, members: map[string]Role{}}
}

// Getters for the state commands and tests need.
func (o *Organization) ID() string                 { return o.id }
func (o *Organization) Name() string               { return o.name }
func (o *Organization) RevealPolicy() RevealPolicy { return o.revealPolicy }
func (o *Organization) Exists() bool               { return o.exists }
func (o *Organization) CreatedAt() time.Time       { return o.createdAt }

// Role returns userID's role, or "" when it is not a member.
func (o *Organization) Role(userID string) Role { return o.members[userID] }

// ParseOrganizationName trims and validates an organization name.
func ParseOrganizationName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", Invalid("name", "is required")
	}
	if err := ValidateText("name", n, SingleLine); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(n) > MaxOrganizationNameLength {
		return "", Invalid("name", "must be at most 100 characters of UTF-8")
	}
	return n, nil
}

// CreateOrganization decides creating an organization owned by ownerID, starting with
// the given reveal policy ("" means allowed).
func CreateOrganization(name, ownerID string, policy RevealPolicy) (Event, error) {
	n, err := ParseOrganizationName(name)
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = RevealAllowed
	}
	if _, err := ParseRevealPolicy(string(policy)); err != nil {
		return nil, err
	}
	return OrganizationCreated{Name: n, OwnerID: ownerID, RevealPolicy: policy}, nil
}

func (o *Organization) mustExist() error {
	if !o.exists {
		return Errorf(CodeNotFound, "The organization was not found.")
	}
	return nil
}

// Update decides a change of name or reveal policy; no event when nothing changes.
func (o *Organization) Update(p Principal, name *string, policy *RevealPolicy) ([]Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	var ev OrganizationUpdated
	if name != nil {
		n, err := ParseOrganizationName(*name)
		if err != nil {
			return nil, err
		}
		if n != o.name {
			ev.Name = &n
		}
	}
	if policy != nil && *policy != o.revealPolicy {
		pp := *policy
		ev.RevealPolicy = &pp
	}
	if ev.Name == nil && ev.RevealPolicy == nil {
		return nil, nil
	}
	return []Event{ev}, nil
}

// RotateDataKey decides recording a rotation of the organization's data key to
// version, which the keyring has just made. Only owners and admins rotate.
func (o *Organization) RotateDataKey(p Principal, version int) (Event, error) {
	if err := o.AuthorizeDataKeys(p); err != nil {
		return nil, err
	}
	if version < 2 {
		return nil, Invalid("version", "must be 2 or more after a rotation")
	}
	return DataKeyRotated{Version: version}, nil
}

// RecordAutomaticDataKeyRotation decides recording a rotation the keyring made by itself
// past the encryption limit; no principal decided it.
func (o *Organization) RecordAutomaticDataKeyRotation(version int) (Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	if version < 2 {
		return nil, Invalid("version", "must be 2 or more after a rotation")
	}
	return DataKeyRotated{Version: version, Automatic: true}, nil
}

// AuthorizeDataKeys checks that p may see and rotate the organization's data keys.
func (o *Organization) AuthorizeDataKeys(p Principal) error {
	if err := o.mustExist(); err != nil {
		return err
	}
	return Authorize(p, ActionManage, Target{})
}

// needsOwner reports whether touching a member of role r (or granting r) takes an owner.
func (o *Organization) authorizeMemberChange(p Principal, roles ...Role) error {
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return err
	}
	for _, r := range roles {
		if r == RoleOwner && p.Priority() < RoleOwner.Priority() {
			return Errorf(CodeForbidden, "Only an owner can add or remove owners.")
		}
	}
	return nil
}

func (o *Organization) owners() int {
	n := 0
	for _, r := range o.members {
		if r == RoleOwner {
			n++
		}
	}
	return n
}

// UserDirectory is the port through which the organization finds the user an email
// names while it decides to add a member: the log implements it. email is normalized;
// found is false when no user is registered with it.
type UserDirectory interface {
	UserByEmail(ctx context.Context, email string) (userID string, found bool, err error)
}

// AddMember decides adding the registered user that email names, with role. Only an
// owner or an admin may, and only an owner may add an owner; the email is looked up
// once the caller may add members, so that a refusal never says whether an address is
// registered. An email that is invalid or names nobody is a validation error on email.
func (o *Organization) AddMember(ctx context.Context, p Principal, email string, role Role, users UserDirectory) (Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	userID, found, err := users.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, Invalid("email", "no user is registered with this email")
	}
	if err := o.authorizeMemberChange(p, role); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if _, ok := o.members[userID]; ok {
		return nil, Invalid("email", "is already a member of this organization")
	}
	return MemberAdded{UserID: userID, Role: role}, nil
}

// ChangeRole decides giving member userID a new role.
func (o *Organization) ChangeRole(p Principal, userID string, role Role) ([]Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	cur, ok := o.members[userID]
	if !ok {
		return nil, Errorf(CodeNotFound, "The member was not found.")
	}
	if err := o.authorizeMemberChange(p, cur, role); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if cur == role {
		return nil, nil
	}
	if cur == RoleOwner && o.owners() == 1 {
		return nil, Errorf(CodeLastOwner, "The organization must keep at least one owner.")
	}
	return []Event{MemberRoleChanged{UserID: userID, From: cur, To: role}}, nil
}

// RemoveMember decides removing member userID.
func (o *Organization) RemoveMember(p Principal, userID string) (Event, error) {
	if err := o.mustExist(); err != nil {
		return nil, err
	}
	cur, ok := o.members[userID]
	if !ok {
		return nil, Errorf(CodeNotFound, "The member was not found.")
	}
	if err := o.authorizeMemberChange(p, cur); err != nil {
		return nil, err
	}
	if cur == RoleOwner && o.owners() == 1 {
		return nil, Errorf(CodeLastOwner, "The organization must keep at least one owner.")
	}
	return MemberRemoved{UserID: userID, Role: cur}, nil
}

// Clone returns a copy of the organization that later Apply calls on either one
// leave unchanged, for callers that read it while commands move the original on.
func (o *Organization) Clone() *Organization {
	c := *o
	c.members = make(map[string]Role, len(o.members))
	maps.Copy(c.members, o.members)
	return &c
}

// Apply changes the organization's state by one recorded event.
func (o *Organization) Apply(r Recorded) {
	switch e := r.Event.(type) {
	case OrganizationCreated:
		o.exists, o.name, o.revealPolicy, o.createdAt = true, e.Name, e.RevealPolicy, r.Time
		if o.revealPolicy == "" {
			o.revealPolicy = RevealAllowed
		}
		o.members[e.OwnerID] = RoleOwner
	case OrganizationUpdated:
		if e.Name != nil {
			o.name = *e.Name
		}
		if e.RevealPolicy != nil {
			o.revealPolicy = *e.RevealPolicy
		}
	case MemberAdded:
		o.members[e.UserID] = e.Role
	case MemberRoleChanged:
		o.members[e.UserID] = e.To
	case MemberRemoved:
		delete(o.members, e.UserID)
	}
}
