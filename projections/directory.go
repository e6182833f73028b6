package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// Directory answers who is who: organizations, a user's memberships and role, an
// organization's members, and users.
type Directory struct {
	*store
}

// UserRef names a user as rows show it.
type UserRef struct {
	ID    string
	Email string
	Name  string
}

// Org is an organization's read model.
type Org struct {
	ID           string
	Name         string
	RevealPolicy domain.RevealPolicy
	CreatedAt    time.Time
}

// Membership is one organization a user belongs to.
type Membership struct {
	OrgID   string
	OrgName string
	Role    domain.Role
}

// Member is one member of an organization.
type Member struct {
	UserID  string
	Email   string
	Name    string
	Role    domain.Role
	AddedAt time.Time
}

// User is a platform user's read model.
type User struct {
	ID         string
	Email      string
	Name       string
	Superadmin bool
	CreatedAt  time.Time
}

func notFound(what string) error {
	return domain.Errorf(domain.CodeNotFound, "The %s was not found.", what)
}

// GetOrg returns an organization.
func (db *Directory) GetOrg(ctx context.Context, orgID string) (Org, error) {
	if !isUUID(orgID) {
		return Org{}, notFound("organization")
	}
	var o Org
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id::text, name, reveal_policy, created_at FROM orgs WHERE id = $1`, orgID).
			Scan(&o.ID, &o.Name, &o.RevealPolicy, &o.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Org{}, notFound("organization")
	}
	if err != nil {
		return Org{}, fmt.Errorf("get org: %w", err)
	}
	return o, nil
}

// OrgAccess reads an organization and userID's role in it ("" when not a member) in
// one round trip: every request on an organization needs both, and the role is read
// fresh each time, so a removal bites on the next request.
func (db *Directory) OrgAccess(ctx context.Context, orgID, userID string) (Org, domain.Role, error) {
	if !isUUID(orgID) {
		return Org{}, "", notFound("organization")
	}
	var a orgAccessRow
	if err := db.scopedQueries(ctx, orgID, "", a.query(orgID, userID)); err != nil {
		return Org{}, "", fmt.Errorf("org access: %w", err)
	}
	return a.result()
}

func (a *orgAccessRow) query(orgID, userID string) scopedRead {
	var user any // NULL: no member row matches (a service token, a malformed id)
	if isUUID(userID) {
		user = userID
	}
	return scopedRead{sql: `SELECT o.id IS NOT NULL, COALESCE(o.id::text, ''), COALESCE(o.name, ''), COALESCE(o.reveal_policy, ''),
				COALESCE(o.created_at, 'epoch'), COALESCE(m.role, '')
			FROM (SELECT 1) one
			LEFT JOIN orgs o ON o.id = $1
			LEFT JOIN members m ON m.org_id = $1 AND m.user_id = $2::uuid`, args: []any{orgID, user}, read: func(rows pgx.Rows) error {
		var err error
		*a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[orgAccessRow])
		return err
	}}
}

func (a orgAccessRow) result() (Org, domain.Role, error) {
	if !a.Found {
		return Org{}, a.Role, notFound("organization")
	}
	return Org{ID: a.ID, Name: a.Name, RevealPolicy: a.RevealPolicy, CreatedAt: a.CreatedAt}, a.Role, nil
}

type orgAccessRow struct {
	Found        bool
	ID, Name     string
	RevealPolicy domain.RevealPolicy
	CreatedAt    time.Time
	Role         domain.Role
}

// MembershipsOf lists the organizations a user belongs to, by name.
func (db *Directory) MembershipsOf(ctx context.Context, userID string) ([]Membership, error) {
	if !isUUID(userID) {
		return nil, nil
	}
	out := []Membership{}
	err := db.asUser(ctx, userID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT o.id::text, o.name, m.role FROM members m JOIN orgs o ON o.id = m.org_id
			WHERE m.user_id = $1 ORDER BY o.name, o.id`, userID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
			var m Membership
			return m, r.Scan(&m.OrgID, &m.OrgName, &m.Role)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	return out, nil
}

// RoleOf returns a user's role in an organization, or "" when it is not a member.
func (db *Directory) RoleOf(ctx context.Context, orgID, userID string) (domain.Role, error) {
	if !isUUID(orgID) || !isUUID(userID) {
		return "", nil
	}
	var role domain.Role
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT role FROM members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&role)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("role: %w", err)
	}
	return role, nil
}

const memberColumns = `m.user_id::text, COALESCE(u.email, ''), COALESCE(u.name, ''), m.role, m.added_at`

func scanMember(r pgx.CollectableRow) (Member, error) {
	var m Member
	return m, r.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.AddedAt)
}

// ListMembers lists an organization's members by email.
func (db *Directory) ListMembers(ctx context.Context, orgID string) ([]Member, error) {
	if !isUUID(orgID) {
		return nil, notFound("organization")
	}
	out := []Member{}
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+memberColumns+` FROM members m LEFT JOIN users u ON u.id = m.user_id
			WHERE m.org_id = $1 ORDER BY u.email, m.user_id`, orgID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanMember)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return out, nil
}

// GetUser returns a user.
func (db *Directory) GetUser(ctx context.Context, userID string) (User, error) {
	if !isUUID(userID) {
		return User{}, notFound("user")
	}
	var u User
	err := db.asUser(ctx, userID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id::text, email, name, superadmin, created_at FROM users WHERE id = $1`, userID).
			Scan(&u.ID, &u.Email, &u.Name, &u.Superadmin, &u.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, notFound("user")
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func encodeCursor(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

// decodeCursor reads a grid cursor: the last name of the page before. Any string
// decodes as base64 of some bytes, so the bytes must also be a secret name as the grid
// stores it, or garbage would page from an arbitrary point and answer 200.
func decodeCursor(c string) (string, error) {
	bad := domain.Invalid("cursor", "is not a cursor this server returned")
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return "", bad
	}
	name, err := domain.ParseSecretName(string(b))
	if err != nil || string(name) != string(b) {
		return "", bad
	}
	return string(b), nil
}
