package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The welcome prints a bootstrap password only when serve made it (dev mode without
// configured credentials), for the newcomer who has no other way to learn it. One an
// operator configured is never printed: it went to the terminal, the journal and the
// container logs of every start that created the account.
func TestWelcomePrintsOnlyAPasswordServeMade(t *testing.T) {
	t.Parallel()
	configured := &config{BootstrapEmail: "ops@example.com", BootstrapPassword: "BootPw-Operator-2026", DataDir: t.TempDir()}
	for _, dev := range []bool{false, true} {
		configured.Dev = dev
		login, err := bootstrapLoginOf(configured)
		if err != nil {
			t.Fatal(err)
		}
		login.Created = true
		var out bytes.Buffer
		printWelcome(&out, configured, "127.0.0.1:8080", login)
		if strings.Contains(out.String(), "BootPw-Operator-2026") {
			t.Fatalf("dev %v: the welcome prints the configured password:\n%s", dev, out.String())
		}
		if !strings.Contains(out.String(), "log in as ops@example.com with the password in KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD") {
			t.Fatalf("dev %v: the welcome does not say where the password is:\n%s", dev, out.String())
		}
	}

	dev := &config{Dev: true, DataDir: filepath.Join(t.TempDir(), "data")}
	login, err := bootstrapLoginOf(dev)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printWelcome(&out, dev, "127.0.0.1:8080", login)
	if login.Password == "" || !strings.Contains(out.String(), "log in as admin@keyledger.local with password "+login.Password+"\n") {
		t.Fatalf("the generated password is not printed:\n%s", out.String())
	}
}
