package main

import (
	"regexp"
	"testing"
)

// keys list and keys rotate-data talk to the server over HTTP: a rotation shows up as a
// new active version, the old one retired; an editor is refused.
func TestKeysDataCommands(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	a := h.withToken(h.alice.Token)

	list := a.main(t, "keys", "list", "--org", "Acme").ok(t).stdout
	if !regexp.MustCompile(`^VERSION  STATE   CREATED\n1        active  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$`).MatchString(list) {
		t.Fatalf("list before rotation printed %q", list)
	}
	out := a.main(t, "keys", "rotate-data", "--org", h.org.ID).ok(t).stdout
	if out != "rotated the data key: new data is sealed with version 2; older versions still open what they sealed\n" {
		t.Fatalf("rotate-data printed %q", out)
	}
	list = a.main(t, "keys", "list", "--org", "acme").ok(t).stdout
	if !regexp.MustCompile(`^VERSION  STATE    CREATED\n1        retired  \S+\n2        active   \S+\n$`).MatchString(list) {
		t.Fatalf("list after rotation printed %q", list)
	}

	h.env.SignUp(t, "ed@example.com", "Ed")
	h.alice.AddMember(t, h.org.ID, "ed@example.com", "editor")
	ed := h.env.Anonymous()
	ed.Login(t, "ed@example.com", "correct horse battery staple")
	e := h.withToken(ed.Token)
	e.main(t, "keys", "rotate-data", "--org", h.org.ID).failed(t, "Only owners and admins can do this.")
	e.main(t, "keys", "list", "--org", h.org.ID).failed(t, "Only owners and admins can do this.")
	a.main(t, "keys", "rotate-data").failed(t, "--org is required")
}
