package domain_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// The members of the organization tests: one owner, and an admin, an editor and a
// viewer added after it was created.
var (
	founder = domain.Principal{UserID: "u-founder", Role: domain.RoleOwner}
	admin   = domain.Principal{UserID: "u-admin", Role: domain.RoleAdmin}
	editor  = domain.Principal{UserID: "u-editor", Role: domain.RoleEditor}
	member  = domain.Principal{UserID: "u-viewer", Role: domain.RoleViewer}
	// secondOwner is the admin once withSecondOwner promoted it.
	secondOwner = domain.Principal{UserID: admin.UserID, Role: domain.RoleOwner}
)

const newcomer = "u-newcomer"

func orgCreated() domain.Event {
	return domain.OrganizationCreated{Name: "Acme", OwnerID: founder.UserID, RevealPolicy: domain.RevealAllowed}
}

// staffed is an organization with one member of each role.
func staffed() []domain.Event {
	return []domain.Event{
		orgCreated(),
		domain.MemberAdded{UserID: admin.UserID, Role: domain.RoleAdmin},
		domain.MemberAdded{UserID: editor.UserID, Role: domain.RoleEditor},
		domain.MemberAdded{UserID: member.UserID, Role: domain.RoleViewer},
	}
}

// withSecondOwner is staffed with the admin promoted to owner.
func withSecondOwner() []domain.Event {
	return append(staffed(), domain.MemberRoleChanged{UserID: admin.UserID, From: domain.RoleAdmin, To: domain.RoleOwner})
}

func freshOrg() *domain.Organization { return domain.NewOrganization(orgID) }

type orgScenario = scenario[*domain.Organization]

func TestCreateOrganization(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  domain.Event
		err   domain.Code
	}{
		{"named", "Acme", domain.OrganizationCreated{Name: "Acme", OwnerID: founder.UserID, RevealPolicy: domain.RevealAllowed}, ""},
		{"trimmed", "  Acme  ", domain.OrganizationCreated{Name: "Acme", OwnerID: founder.UserID, RevealPolicy: domain.RevealAllowed}, ""},
		{"100 characters", strings.Repeat("ä", 100), domain.OrganizationCreated{Name: strings.Repeat("ä", 100), OwnerID: founder.UserID, RevealPolicy: domain.RevealAllowed}, ""},
		{"101 characters", strings.Repeat("ä", 101), nil, domain.CodeValidation},
		{"empty", "", nil, domain.CodeValidation},
		{"blank", "  ", nil, domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CreateOrganization(tt.input, founder.UserID, "")
			if tt.err != "" {
				thenValid(t, err, tt.err, "name")
				return
			}
			thenEvents(t, []domain.Event{got}, err, tt.want)
		})
	}
}

func TestOrganizationCreatedMakesTheCreatorOwner(t *testing.T) {
	t.Parallel()
	o := given(t, freshOrg(), orgCreated())
	if !o.Exists() || o.ID() != orgID || o.Name() != "Acme" {
		t.Fatalf("Exists() = %v, ID() = %q, Name() = %q", o.Exists(), o.ID(), o.Name())
	}
	if o.Role(founder.UserID) != domain.RoleOwner {
		t.Fatalf("creator's role = %q, want owner", o.Role(founder.UserID))
	}
	if o.RevealPolicy() != domain.RevealAllowed {
		t.Fatalf("reveal policy = %q, want allowed", o.RevealPolicy())
	}
	if !o.CreatedAt().Equal(at(0)) {
		t.Fatalf("CreatedAt = %v", o.CreatedAt())
	}
	if o.Role(newcomer) != "" {
		t.Fatalf("a stranger has role %q", o.Role(newcomer))
	}
}

func TestOrganizationApply(t *testing.T) {
	t.Parallel()
	o := given(t, freshOrg(), append(withSecondOwner(),
		domain.OrganizationUpdated{Name: ptr("Acme Inc"), RevealPolicy: ptr(domain.RevealDisabled)},
		domain.OrganizationUpdated{Name: ptr("Acme Corp")},
		domain.MemberRemoved{UserID: editor.UserID, Role: domain.RoleEditor},
	)...)
	if o.Name() != "Acme Corp" || o.RevealPolicy() != domain.RevealDisabled {
		t.Fatalf("name %q, policy %q", o.Name(), o.RevealPolicy())
	}
	wantRoles := map[string]domain.Role{founder.UserID: domain.RoleOwner, admin.UserID: domain.RoleOwner, editor.UserID: "", member.UserID: domain.RoleViewer}
	for id, want := range wantRoles {
		if got := o.Role(id); got != want {
			t.Fatalf("Role(%s) = %q, want %q", id, got, want)
		}
	}
}

func TestOrganizationAddMember(t *testing.T) {
	t.Parallel()
	add := func(p domain.Principal, userID string, role domain.Role) func(*domain.Organization) ([]domain.Event, error) {
		return func(o *domain.Organization) ([]domain.Event, error) {
			return one(o.AddMember(context.Background(), p, userID+"@example.com", role, &directory{}))
		}
	}
	added := func(role domain.Role) []domain.Event {
		return []domain.Event{domain.MemberAdded{UserID: newcomer, Role: role}}
	}
	runScenarios(t, freshOrg, []orgScenario{
		{name: "owner adds a viewer", given: staffed(), when: add(founder, newcomer, domain.RoleViewer), then: added(domain.RoleViewer)},
		{name: "owner adds an owner", given: staffed(), when: add(founder, newcomer, domain.RoleOwner), then: added(domain.RoleOwner)},
		{name: "admin adds an editor", given: staffed(), when: add(admin, newcomer, domain.RoleEditor), then: added(domain.RoleEditor)},
		{name: "admin adds an admin", given: staffed(), when: add(admin, newcomer, domain.RoleAdmin), then: added(domain.RoleAdmin)},
		{name: "admin cannot add an owner", given: staffed(), when: add(admin, newcomer, domain.RoleOwner), err: domain.CodeForbidden},
		{name: "super-admin adds an owner", given: staffed(), when: add(superadmin, newcomer, domain.RoleOwner), then: added(domain.RoleOwner)},
		{name: "editor cannot add", given: staffed(), when: add(editor, newcomer, domain.RoleViewer), err: domain.CodeForbidden},
		{name: "viewer cannot add", given: staffed(), when: add(member, newcomer, domain.RoleViewer), err: domain.CodeForbidden},
		{name: "non-member gets not_found", given: staffed(), when: add(outsider, newcomer, domain.RoleViewer), err: domain.CodeNotFound},
		{name: "duplicate member is a validation error on email", given: staffed(), when: add(founder, editor.UserID, domain.RoleAdmin), err: domain.CodeValidation, field: "email"},
		{name: "the owner again is a validation error on email", given: staffed(), when: add(founder, founder.UserID, domain.RoleViewer), err: domain.CodeValidation, field: "email"},
		{name: "unknown role", given: staffed(), when: add(founder, newcomer, "superuser"), err: domain.CodeValidation, field: "role"},
		{name: "empty role", given: staffed(), when: add(founder, newcomer, ""), err: domain.CodeValidation, field: "role"},
		{name: "organization never created", when: add(superadmin, newcomer, domain.RoleViewer), err: domain.CodeNotFound},
		{name: "a removed member may be added again", given: append(staffed(), domain.MemberRemoved{UserID: editor.UserID, Role: domain.RoleEditor}),
			when: add(admin, editor.UserID, domain.RoleViewer), then: []domain.Event{domain.MemberAdded{UserID: editor.UserID, Role: domain.RoleViewer}}},
	})
}

// directory is a domain.UserDirectory where every test user u-NAME is registered as
// u-NAME@example.com; it records the emails it was asked about, and fails with err.
type directory struct {
	asked []string
	err   error
}

func (d *directory) UserByEmail(_ context.Context, email string) (string, bool, error) {
	d.asked = append(d.asked, email)
	if d.err != nil {
		return "", false, d.err
	}
	id, ok := strings.CutSuffix(email, "@example.com")
	if !ok || !strings.HasPrefix(id, "u-") {
		return "", false, nil
	}
	return id, true, nil
}

// AddMember authorizes before it reads or looks up the email, so that a refusal says
// nothing about which addresses are registered; then the email (invalid, or nobody's)
// is a validation error on email, before the role is checked.
func TestOrganizationAddMemberDecidesTheEmail(t *testing.T) {
	t.Parallel()
	lookupFailed := errors.New("log unavailable")
	tests := []struct {
		name      string
		p         domain.Principal
		email     string
		role      domain.Role
		lookupErr error
		want      domain.Event
		err       domain.Code
		field     string
		asked     []string
	}{
		{name: "viewer with an unregistered email is forbidden, not told", p: member, email: "nobody@example.org", role: domain.RoleViewer, err: domain.CodeForbidden},
		{name: "editor with a registered email is forbidden", p: editor, email: newcomer + "@example.com", role: domain.RoleViewer, err: domain.CodeForbidden},
		{name: "editor with an invalid email is forbidden", p: editor, email: "not an email", role: domain.RoleViewer, err: domain.CodeForbidden},
		{name: "non-member gets not_found", p: outsider, email: "nobody@example.org", role: domain.RoleViewer, err: domain.CodeNotFound},
		{name: "invalid email", p: admin, email: "not an email", role: domain.RoleViewer, err: domain.CodeValidation, field: "email"},
		{name: "empty email", p: admin, email: "  ", role: domain.RoleViewer, err: domain.CodeValidation, field: "email"},
		{name: "nobody registered with the email", p: admin, email: "nobody@example.org", role: domain.RoleViewer,
			err: domain.CodeValidation, field: "email", asked: []string{"nobody@example.org"}},
		{name: "an unregistered email comes before the owner role", p: admin, email: "nobody@example.org", role: domain.RoleOwner,
			err: domain.CodeValidation, field: "email", asked: []string{"nobody@example.org"}},
		{name: "admin adding an owner is forbidden", p: admin, email: newcomer + "@example.com", role: domain.RoleOwner,
			err: domain.CodeForbidden, asked: []string{newcomer + "@example.com"}},
		{name: "the email is normalized before the lookup", p: admin, email: "  U-NEWCOMER@Example.COM ", role: domain.RoleEditor,
			want: domain.MemberAdded{UserID: newcomer, Role: domain.RoleEditor}, asked: []string{newcomer + "@example.com"}},
		{name: "a failed lookup is no decision", p: founder, email: newcomer + "@example.com", role: domain.RoleViewer, lookupErr: lookupFailed,
			asked: []string{newcomer + "@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := given(t, freshOrg(), staffed()...)
			d := &directory{err: tt.lookupErr}
			got, err := o.AddMember(context.Background(), tt.p, tt.email, tt.role, d)
			switch {
			case tt.lookupErr != nil:
				if !errors.Is(err, tt.lookupErr) || got != nil {
					t.Fatalf("got %#v, %v; want the lookup's error and no event", got, err)
				}
			case tt.err != "":
				thenCode(t, err, tt.err)
				if tt.field != "" {
					thenField(t, err, tt.field)
				}
				if got != nil {
					t.Fatalf("a refused decision returned %#v", got)
				}
			default:
				if err != nil || got != tt.want {
					t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
				}
			}
			if strings.Join(d.asked, ",") != strings.Join(tt.asked, ",") {
				t.Fatalf("looked up %q, want %q", d.asked, tt.asked)
			}
		})
	}
}

func TestOrganizationChangeRole(t *testing.T) {
	t.Parallel()
	change := func(p domain.Principal, userID string, role domain.Role) func(*domain.Organization) ([]domain.Event, error) {
		return func(o *domain.Organization) ([]domain.Event, error) { return o.ChangeRole(p, userID, role) }
	}
	changed := func(userID string, from, to domain.Role) []domain.Event {
		return []domain.Event{domain.MemberRoleChanged{UserID: userID, From: from, To: to}}
	}
	runScenarios(t, freshOrg, []orgScenario{
		{name: "owner promotes an editor to admin", given: staffed(), when: change(founder, editor.UserID, domain.RoleAdmin),
			then: changed(editor.UserID, domain.RoleEditor, domain.RoleAdmin)},
		{name: "admin demotes an editor to viewer", given: staffed(), when: change(admin, editor.UserID, domain.RoleViewer),
			then: changed(editor.UserID, domain.RoleEditor, domain.RoleViewer)},
		{name: "owner promotes an admin to owner", given: staffed(), when: change(founder, admin.UserID, domain.RoleOwner),
			then: changed(admin.UserID, domain.RoleAdmin, domain.RoleOwner)},
		{name: "admin cannot promote to owner", given: staffed(), when: change(admin, editor.UserID, domain.RoleOwner), err: domain.CodeForbidden},
		{name: "admin cannot demote an owner", given: staffed(), when: change(admin, founder.UserID, domain.RoleAdmin), err: domain.CodeForbidden},
		{name: "editor cannot change roles", given: staffed(), when: change(editor, member.UserID, domain.RoleEditor), err: domain.CodeForbidden},
		{name: "viewer cannot change roles", given: staffed(), when: change(member, member.UserID, domain.RoleAdmin), err: domain.CodeForbidden},
		{name: "non-member gets not_found", given: staffed(), when: change(outsider, member.UserID, domain.RoleEditor), err: domain.CodeNotFound},
		{name: "non-member target is not_found", given: staffed(), when: change(founder, newcomer, domain.RoleEditor), err: domain.CodeNotFound},
		{name: "removed member is not_found", given: append(staffed(), domain.MemberRemoved{UserID: editor.UserID, Role: domain.RoleEditor}),
			when: change(founder, editor.UserID, domain.RoleViewer), err: domain.CodeNotFound},
		{name: "the last owner cannot demote itself", given: staffed(), when: change(founder, founder.UserID, domain.RoleAdmin), err: domain.CodeLastOwner},
		{name: "a super-admin cannot demote the last owner", given: staffed(), when: change(superadmin, founder.UserID, domain.RoleViewer), err: domain.CodeLastOwner},
		{name: "with two owners one may be demoted", given: withSecondOwner(), when: change(founder, founder.UserID, domain.RoleAdmin),
			then: changed(founder.UserID, domain.RoleOwner, domain.RoleAdmin)},
		{name: "with two owners, demoting the other", given: withSecondOwner(), when: change(founder, admin.UserID, domain.RoleViewer),
			then: changed(admin.UserID, domain.RoleOwner, domain.RoleViewer)},
		{name: "after one of two owners was demoted the other is last",
			given: append(withSecondOwner(), domain.MemberRoleChanged{UserID: founder.UserID, From: domain.RoleOwner, To: domain.RoleAdmin}),
			when:  change(secondOwner, secondOwner.UserID, domain.RoleEditor), err: domain.CodeLastOwner},
		{name: "the same role is no event", given: staffed(), when: change(founder, editor.UserID, domain.RoleEditor)},
		{name: "the last owner kept as owner is no event", given: staffed(), when: change(founder, founder.UserID, domain.RoleOwner)},
		{name: "unknown role", given: staffed(), when: change(founder, editor.UserID, "superuser"), err: domain.CodeValidation, field: "role"},
		{name: "empty role", given: withSecondOwner(), when: change(founder, admin.UserID, ""), err: domain.CodeValidation, field: "role"},
		{name: "organization never created", when: change(superadmin, founder.UserID, domain.RoleAdmin), err: domain.CodeNotFound},
	})
}

func TestOrganizationRemoveMember(t *testing.T) {
	t.Parallel()
	remove := func(p domain.Principal, userID string) func(*domain.Organization) ([]domain.Event, error) {
		return func(o *domain.Organization) ([]domain.Event, error) { return one(o.RemoveMember(p, userID)) }
	}
	removed := func(userID string, role domain.Role) []domain.Event {
		return []domain.Event{domain.MemberRemoved{UserID: userID, Role: role}}
	}
	runScenarios(t, freshOrg, []orgScenario{
		{name: "owner removes a viewer", given: staffed(), when: remove(founder, member.UserID), then: removed(member.UserID, domain.RoleViewer)},
		{name: "admin removes an editor", given: staffed(), when: remove(admin, editor.UserID), then: removed(editor.UserID, domain.RoleEditor)},
		{name: "admin removes itself", given: staffed(), when: remove(admin, admin.UserID), then: removed(admin.UserID, domain.RoleAdmin)},
		{name: "admin cannot remove an owner, even one of two", given: append(withSecondOwner(), domain.MemberRoleChanged{UserID: editor.UserID, From: domain.RoleEditor, To: domain.RoleAdmin}),
			when: remove(domain.Principal{UserID: editor.UserID, Role: domain.RoleAdmin}, founder.UserID), err: domain.CodeForbidden},
		{name: "admin cannot remove the last owner either", given: staffed(), when: remove(admin, founder.UserID), err: domain.CodeForbidden},
		{name: "editor cannot remove", given: staffed(), when: remove(editor, member.UserID), err: domain.CodeForbidden},
		{name: "viewer cannot remove itself", given: staffed(), when: remove(member, member.UserID), err: domain.CodeForbidden},
		{name: "non-member gets not_found", given: staffed(), when: remove(outsider, member.UserID), err: domain.CodeNotFound},
		{name: "non-member target is not_found", given: staffed(), when: remove(founder, newcomer), err: domain.CodeNotFound},
		{name: "the last owner cannot leave", given: staffed(), when: remove(founder, founder.UserID), err: domain.CodeLastOwner},
		{name: "a super-admin cannot remove the last owner", given: staffed(), when: remove(superadmin, founder.UserID), err: domain.CodeLastOwner},
		{name: "with two owners one may leave", given: withSecondOwner(), when: remove(founder, founder.UserID), then: removed(founder.UserID, domain.RoleOwner)},
		{name: "with two owners, removing the other", given: withSecondOwner(), when: remove(founder, admin.UserID), then: removed(admin.UserID, domain.RoleOwner)},
		{name: "super-admin removes one of two owners", given: withSecondOwner(), when: remove(superadmin, admin.UserID), then: removed(admin.UserID, domain.RoleOwner)},
		{name: "after one of two owners left the other is last",
			given: append(withSecondOwner(), domain.MemberRemoved{UserID: founder.UserID, Role: domain.RoleOwner}),
			when:  remove(secondOwner, secondOwner.UserID), err: domain.CodeLastOwner},
		{name: "organization never created", when: remove(superadmin, founder.UserID), err: domain.CodeNotFound},
	})
}

func TestOrganizationUpdate(t *testing.T) {
	t.Parallel()
	update := func(p domain.Principal, name *string, policy *domain.RevealPolicy) func(*domain.Organization) ([]domain.Event, error) {
		return func(o *domain.Organization) ([]domain.Event, error) { return o.Update(p, name, policy) }
	}
	disabled := ptr(domain.RevealDisabled)
	runScenarios(t, freshOrg, []orgScenario{
		{name: "owner renames", given: staffed(), when: update(founder, ptr(" Acme Corp "), nil),
			then: []domain.Event{domain.OrganizationUpdated{Name: ptr("Acme Corp")}}},
		{name: "admin disables reveal", given: staffed(), when: update(admin, nil, disabled),
			then: []domain.Event{domain.OrganizationUpdated{RevealPolicy: disabled}}},
		{name: "both in one event", given: staffed(), when: update(founder, ptr("New"), disabled),
			then: []domain.Event{domain.OrganizationUpdated{Name: ptr("New"), RevealPolicy: disabled}}},
		{name: "re-enable reveal", given: append(staffed(), domain.OrganizationUpdated{RevealPolicy: disabled}),
			when: update(admin, nil, ptr(domain.RevealAllowed)),
			then: []domain.Event{domain.OrganizationUpdated{RevealPolicy: ptr(domain.RevealAllowed)}}},
		{name: "unchanged name and policy is no event", given: staffed(), when: update(founder, ptr("Acme"), ptr(domain.RevealAllowed))},
		{name: "nothing asked is no event", given: staffed(), when: update(founder, nil, nil)},
		{name: "only the changed field is recorded", given: staffed(), when: update(founder, ptr("Acme"), disabled),
			then: []domain.Event{domain.OrganizationUpdated{RevealPolicy: disabled}}},
		{name: "empty name", given: staffed(), when: update(founder, ptr(" "), nil), err: domain.CodeValidation, field: "name"},
		{name: "editor cannot change settings", given: staffed(), when: update(editor, nil, disabled), err: domain.CodeForbidden},
		{name: "viewer cannot change settings", given: staffed(), when: update(member, ptr("Mine"), nil), err: domain.CodeForbidden},
		{name: "non-member gets not_found", given: staffed(), when: update(outsider, ptr("Mine"), nil), err: domain.CodeNotFound},
		{name: "organization never created", when: update(superadmin, ptr("X"), nil), err: domain.CodeNotFound},
	})
}
