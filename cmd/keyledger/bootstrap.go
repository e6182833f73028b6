package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bootstrapLogin is the super-admin created at start, printed for the newcomer;
// Created says that this start registered it. Generated says that serve made the
// password itself (dev mode without configured credentials): only such a password is
// printed. One an operator configured (KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD) is theirs
// already, and printed it landed in the terminal, the journal and the container logs
// of every start that created the account.
type bootstrapLogin struct {
	Email     string
	Password  string
	Created   bool
	Generated bool
}

// bootstrapLoginOf is the super-admin that serve makes sure of at start (app.Admin),
// nil when none is configured. In dev mode without configured credentials it
// generates a password once and keeps it (0600) in the data dir, so every later start
// can print the same login.
func bootstrapLoginOf(c *config) (*bootstrapLogin, error) {
	email, password := c.BootstrapEmail, c.BootstrapPassword
	if email == "" && !c.Dev {
		return nil, nil
	}
	generated := false
	if email == "" {
		var err error
		email = "admin@keyledger.local"
		password, err = devPassword(filepath.Join(c.DataDir, "bootstrap-admin-password"))
		if err != nil {
			return nil, err
		}
		generated = true
	}
	if password == "" {
		return nil, fmt.Errorf("KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL is set but KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD is not")
	}
	return &bootstrapLogin{Email: email, Password: password, Generated: generated}, nil
}

func devPassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 15)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save password: %w", err)
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save password: %w", err)
	}
	return pw, nil
}
