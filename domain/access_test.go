package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// The cast of the access review's history.
const (
	accessOrg    = "org-1"
	accessSecret = "sec-1"
	olive        = "u-olive"  // creates the org: owner
	eddie        = "u-eddie"  // editor who creates the secret: its owner
	ella         = "u-ella"   // editor, promoted to admin, then removed
	vic          = "u-vic"    // viewer
	sam          = "u-sam"    // platform super-admin, not a member
	otherOrgUser = "u-other"  // member of another organization only
	prodToken    = "tok-prod" // production token, revoked later
	stgToken     = "tok-stg"  // staging token that expires
)

// accessHistory is one organization's log, one event a minute from at(0), as the review
// reads it (with other organizations' events mixed in, which it must ignore).
func accessHistory() []domain.Recorded {
	expiry := at(12)
	policy := domain.RevealDisabled
	allowed := domain.RevealAllowed
	user := func(id, email string, super bool) domain.Recorded {
		return domain.Recorded{OrgID: domain.PlatformScope, AggregateType: domain.AggregateUser, AggregateID: id,
			Event: domain.UserRegistered{Email: email, Name: strings.ToUpper(email[:1]) + email[1:strings.Index(email, "@")], Superadmin: super}}
	}
	org := func(e domain.Event) domain.Recorded {
		return domain.Recorded{OrgID: accessOrg, AggregateType: domain.AggregateOrganization, AggregateID: accessOrg, Event: e}
	}
	events := []domain.Recorded{
		user(olive, "olive@example.com", false), // 0
		user(eddie, "eddie@example.com", false), // 1
		user(ella, "ella@example.com", false),   // 2
		user(vic, "vic@example.com", false),     // 3
		user(sam, "sam@example.com", true),      // 4
		org(domain.OrganizationCreated{Name: "Acme", OwnerID: olive, RevealPolicy: domain.RevealAllowed}), // 5
		org(domain.MemberAdded{UserID: eddie, Role: domain.RoleEditor}),                                   // 6
		org(domain.MemberAdded{UserID: ella, Role: domain.RoleEditor}),                                    // 7
		org(domain.MemberAdded{UserID: vic, Role: domain.RoleViewer}),                                     // 8
		{OrgID: accessOrg, AggregateType: domain.AggregateSecret, AggregateID: accessSecret, // 9
			Event: domain.SecretCreated{Name: "STRIPE_KEY", OwnerID: eddie}},
		{OrgID: accessOrg, AggregateType: domain.AggregateServiceToken, AggregateID: prodToken, // 10
			Event: domain.ServiceTokenCreated{Name: "deploy", Environments: []domain.Environment{domain.Production}}},
		{OrgID: accessOrg, AggregateType: domain.AggregateServiceToken, AggregateID: stgToken, // 11
			Event: domain.ServiceTokenCreated{Name: "ci", Environments: []domain.Environment{domain.Staging}, ExpiresAt: &expiry}},
		org(domain.MemberRoleChanged{UserID: ella, From: domain.RoleEditor, To: domain.RoleAdmin}), // 12 (ci expires here)
		{OrgID: "org-2", AggregateType: domain.AggregateOrganization, AggregateID: "org-2", // 13: another org
			Event: domain.MemberAdded{UserID: otherOrgUser, Role: domain.RoleOwner}},
		org(domain.OrganizationUpdated{RevealPolicy: &policy}), // 14
		{OrgID: accessOrg, AggregateType: domain.AggregateServiceToken, AggregateID: prodToken, // 15
			Event: domain.ServiceTokenRevoked{Name: "deploy"}},
		org(domain.MemberRemoved{UserID: ella, Role: domain.RoleAdmin}), // 16
		org(domain.OrganizationUpdated{RevealPolicy: &allowed}),         // 17
		{OrgID: accessOrg, AggregateType: domain.AggregateSecret, AggregateID: accessSecret, // 18
			Event: domain.SecretDeleted{Name: "STRIPE_KEY"}},
	}
	for i := range events {
		events[i].Seq, events[i].Time = uint64(i+1), at(i)
	}
	return events
}

// describe renders subjects as one line each, for exact comparison.
func describe(subjects []domain.AccessSubject) []string {
	out := make([]string, 0, len(subjects))
	for _, s := range subjects {
		who := s.Email
		if s.Kind == domain.SubjectServiceToken {
			who = s.Name + fmt.Sprint(s.Environments)
		}
		role := string(s.Role)
		if s.Superadmin {
			role += "+superadmin"
		}
		can := make([]string, 0, len(s.Can))
		for _, a := range s.Can {
			can = append(can, string(a))
		}
		out = append(out, fmt.Sprintf("%s %s %s %s [%s]", s.Kind, s.ID, who, role, strings.Join(can, " ")))
	}
	return out
}

func TestAccessReviewFoldsTheHistoryAsItWasAtAnInstant(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		at   time.Time
		want []string
		err  domain.Code
	}{
		{name: "before the secret existed", at: at(8), err: domain.CodeNotFound},
		{name: "right after the secret and both tokens were created", at: at(11), want: []string{
			"user u-eddie eddie@example.com editor [reveal modify delete fetch]", // the owner
			"user u-ella ella@example.com editor [reveal fetch]",                 // editor, not the owner
			"user u-olive olive@example.com owner [reveal modify delete fetch]",
			"user u-sam sam@example.com +superadmin [reveal modify delete fetch]",
			"user u-vic vic@example.com viewer [reveal fetch]",
			"service_token tok-stg ci[staging]  [fetch]",
			"service_token tok-prod deploy[production]  [fetch]",
		}},
		{name: "promoted to admin; the staging token has expired", at: at(12), want: []string{
			"user u-eddie eddie@example.com editor [reveal modify delete fetch]",
			"user u-ella ella@example.com admin [reveal modify delete fetch]",
			"user u-olive olive@example.com owner [reveal modify delete fetch]",
			"user u-sam sam@example.com +superadmin [reveal modify delete fetch]",
			"user u-vic vic@example.com viewer [reveal fetch]",
			"service_token tok-prod deploy[production]  [fetch]",
		}},
		{name: "reveals disabled; another org's events ignored; between minutes", at: at(14).Add(30 * time.Second), want: []string{
			"user u-eddie eddie@example.com editor [modify delete]",
			"user u-ella ella@example.com admin [modify delete]",
			"user u-olive olive@example.com owner [modify delete]",
			"user u-sam sam@example.com +superadmin [modify delete]",
			"user u-vic vic@example.com viewer []",
			"service_token tok-prod deploy[production]  [fetch]", // integrations are not bound by the reveal policy
		}},
		{name: "token revoked, member removed, reveals allowed again", at: at(17), want: []string{
			"user u-eddie eddie@example.com editor [reveal modify delete fetch]",
			"user u-olive olive@example.com owner [reveal modify delete fetch]",
			"user u-sam sam@example.com +superadmin [reveal modify delete fetch]",
			"user u-vic vic@example.com viewer [reveal fetch]",
		}},
		{name: "after the secret was deleted", at: at(18), err: domain.CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			review := domain.NewAccessReview(accessOrg, accessSecret, tc.at)
			for _, r := range accessHistory() {
				review.Apply(r) // events after tc.at must change nothing
			}
			got, err := review.Subjects()
			if tc.err != "" {
				thenCode(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("Subjects: %v", err)
			}
			if d := describe(got); !slices.Equal(d, tc.want) {
				t.Errorf("subjects at %s:\n got  %q\n want %q", tc.at.Format(time.TimeOnly), d, tc.want)
			}
		})
	}
}

func TestAccessReviewOfASecretInAnotherOrganizationIsNotFound(t *testing.T) {
	t.Parallel()
	review := domain.NewAccessReview("org-2", accessSecret, at(11))
	for _, r := range accessHistory() {
		review.Apply(r)
	}
	_, err := review.Subjects()
	thenCode(t, err, domain.CodeNotFound)
}

func TestAccessReviewCanAgreesWithAuthorize(t *testing.T) {
	t.Parallel()
	// Each user's can list must be exactly what Authorize allows that principal on the
	// secret: the review re-codes no rule.
	review := domain.NewAccessReview(accessOrg, accessSecret, at(12))
	for _, r := range accessHistory() {
		review.Apply(r)
	}
	got, err := review.Subjects()
	if err != nil {
		t.Fatal(err)
	}
	target := domain.Target{OwnerID: eddie, RevealPolicy: domain.RevealAllowed}
	for _, s := range got {
		if s.Kind != domain.SubjectUser {
			continue
		}
		p := domain.Principal{UserID: s.ID, Role: s.Role, Superadmin: s.Superadmin}
		perms := domain.PermissionsFor(p, target)
		want := map[domain.Action]bool{domain.ActionReveal: perms.Reveal, domain.ActionModify: perms.Modify,
			domain.ActionDelete: perms.Delete, domain.ActionFetch: domain.Authorize(p, domain.ActionFetch, target) == nil}
		for act, ok := range want {
			if slices.Contains(s.Can, act) != ok {
				t.Errorf("%s: can %s = %v, Authorize says %v", s.Email, act, !ok, ok)
			}
		}
	}
}

func TestAuthorizeServiceTokenFetchIsTheTokensScope(t *testing.T) {
	t.Parallel()
	scope := []domain.Environment{domain.Staging, domain.Production}
	for _, tc := range []struct {
		env  domain.Environment
		want domain.Code
	}{
		{domain.Development, domain.CodeForbidden},
		{domain.Staging, ""},
		{domain.Production, ""},
	} {
		err := domain.AuthorizeServiceTokenFetch(scope, tc.env)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed", tc.env, err)
			}
			continue
		}
		thenCode(t, err, tc.want)
	}
	thenCode(t, domain.AuthorizeServiceTokenFetch(nil, domain.Production), domain.CodeForbidden)
}
