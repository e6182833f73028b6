package domain_test

import (
	"errors"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func TestParseWebhookURL(t *testing.T) {
	t.Parallel()
	long := "https://example.com/"
	for len(long) <= 2048 {
		long += "aaaaaaaaaa"
	}
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://hooks.example.com/keyledger", "https://hooks.example.com/keyledger", true},
		{"  HTTP://example.com:8080/x?y=1  ", "http://example.com:8080/x?y=1", true},
		{"https://[2001:db8::1]/hook", "https://[2001:db8::1]/hook", true},
		{"", "", false},
		{"ftp://example.com/", "", false},
		{"file:///etc/passwd", "", false},
		{"gopher://example.com", "", false},
		{"example.com/hook", "", false},
		{"https://", "", false},
		{"https:example.com", "", false},
		{"https://example.com/\nx", "", false},
		{"http://exa mple.com/", "", false},
		{long, "", false},
	}
	for _, c := range cases {
		got, err := domain.ParseWebhookURL(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseWebhookURL(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && domain.ErrorCode(err) != domain.CodeValidation {
			t.Errorf("ParseWebhookURL(%q): code %s, want validation_failed", c.in, domain.ErrorCode(err))
		}
	}
}

func TestWebhookDecisions(t *testing.T) {
	t.Parallel()
	admin := domain.Principal{UserID: "u-1", Role: domain.RoleAdmin}
	editor := domain.Principal{UserID: "u-2", Role: domain.RoleEditor}
	if _, err := domain.CreateWebhook(editor, "https://example.com/", nil, "", "whsec_x"); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("an editor creates a webhook: %v, want forbidden", err)
	}
	ev, err := domain.CreateWebhook(admin, "https://example.com/", []domain.Environment{domain.Production, domain.Development, domain.Production}, " ci ", "whsec_x")
	if err != nil {
		t.Fatal(err)
	}
	c := ev.(domain.WebhookCreated)
	if len(c.Environments) != 2 || c.Environments[0] != domain.Development || c.Environments[1] != domain.Production || c.Description != "ci" {
		t.Fatalf("created %+v", c)
	}
	if _, err := domain.CreateWebhook(admin, "https://example.com/", []domain.Environment{"qa"}, "", "whsec_x"); domain.ErrorCode(err) != domain.CodeValidation {
		t.Fatalf("unknown environment: %v", err)
	}
	if _, err := domain.CreateWebhook(admin, "https://example.com/", nil, "a\x00b", "whsec_x"); domain.ErrorCode(err) != domain.CodeValidation {
		t.Fatalf("NUL in description: %v", err)
	}
	w := domain.NewWebhook("o", "w")
	if _, err := w.Delete(admin); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("delete a missing webhook: %v", err)
	}
	w.Apply(domain.Recorded{Seq: 7, Event: c})
	if !w.Active() || w.CreatedSeq() != 7 || !w.Matches("production") || w.Matches("staging") || w.Matches("") {
		t.Fatalf("webhook after creation: %+v", w)
	}
	if _, err := w.Delete(editor); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("an editor deletes: %v", err)
	}
	del, err := w.Delete(admin)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Receives(8) || w.Receives(7) {
		t.Fatal("a webhook receives the notices of events after its creation")
	}
	w.Apply(domain.Recorded{Seq: 8, Event: del})
	if w.Active() || w.DeletedSeq() != 8 || w.Receives(8) || w.Receives(9) {
		t.Fatal("deleted webhook still active")
	}
	if _, err := w.Delete(admin); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	all := domain.NewWebhook("o", "w2")
	all.Apply(domain.Recorded{Seq: 9, Event: domain.WebhookCreated{URL: "https://example.com/"}})
	if !all.Matches("") || !all.Matches("staging") {
		t.Fatal("a webhook without a filter gets every notice")
	}
}

// A webhook's port, when the URL names one, is a number from 1 to 65535: any other
// would make every delivery fail, so it is refused on url when the webhook is made.
func TestParseWebhookURLPorts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://example.com:1/x", "https://example.com:1/x", true},
		{"https://example.com:443/x", "https://example.com:443/x", true},
		{"http://example.com:65535/x", "http://example.com:65535/x", true},
		{"https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x", true},
		{"https://example.com/x", "https://example.com/x", true},
		{"https://example.com:0/x", "", false},
		{"https://example.com:00/x", "", false},
		{"https://example.com:65536/x", "", false},
		{"https://example.com:99999/x", "", false},
		{"https://example.com:99999999999999999999999/x", "", false},
		{"https://[2001:db8::1]:70000/x", "", false},
		{"https://example.com:abc/x", "", false},
		{"https://example.com:8o8o/x", "", false},
		{"https://example.com:-1/x", "", false},
		{"https://example.com:+80/x", "", false},
		{"https://example.com: 80/x", "", false},
	}
	for _, c := range cases {
		got, err := domain.ParseWebhookURL(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseWebhookURL(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
			continue
		}
		if err == nil {
			continue
		}
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeValidation || len(de.Fields) != 1 || de.Fields[0].Field != "url" {
			t.Errorf("ParseWebhookURL(%q): %#v, want validation_failed on url", c.in, err)
		}
	}
}
