package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is the server's configuration: every flag has a KEYLEDGER_* variable with the
// same meaning; a flag given on the command line wins.
type config struct {
	Dev               bool
	Addr              string
	DataDir           string
	DatabaseURL       string
	NATSURL           string
	MasterKey         string
	MasterKeyFile     string
	Signup            string
	TLSCert           string
	TLSKey            string
	BootstrapEmail    string
	BootstrapPassword string
	LogLevel          string
	Replicas          int
	TrustedProxies    string
	// ChangesMaxAge is how long the change stream keeps a notice; finish parses it from
	// changesMaxAge, the flag's text, which also takes days ("7d").
	ChangesMaxAge time.Duration
	changesMaxAge string
	// BehindTLSProxy says that clients reach the server through a load balancer that
	// terminates TLS: the server listens in plain HTTP, but browsers speak HTTPS.
	BehindTLSProxy bool
	// behindTLSProxyEnv is KEYLEDGER_BEHIND_TLS_PROXY as given, checked by finish.
	behindTLSProxyEnv string
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// serverFlags declares the flags shared by serve and migrate.
func serverFlags(name string, stderr io.Writer, getenv func(string) string) (*flag.FlagSet, *config) {
	c := &config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.Dev, "dev", false, "development mode: embedded NATS, a local PostgreSQL, a generated master key and a bootstrap admin")
	fs.StringVar(&c.Addr, "addr", envOr(getenv, "KEYLEDGER_ADDR", "127.0.0.1:8080"), "listen address (KEYLEDGER_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "KEYLEDGER_DATA_DIR", "./.keyledger"), "data directory for embedded NATS, the dev database and keys (KEYLEDGER_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("KEYLEDGER_DATABASE_URL"), "PostgreSQL URL (KEYLEDGER_DATABASE_URL)")
	fs.StringVar(&c.NATSURL, "nats-url", getenv("KEYLEDGER_NATS_URL"), "external NATS URL; unset runs NATS embedded (KEYLEDGER_NATS_URL)")
	fs.StringVar(&c.MasterKey, "master-key", getenv("KEYLEDGER_MASTER_KEY"), "master key, 64 hex digits or base64 of 32 bytes (KEYLEDGER_MASTER_KEY)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", getenv("KEYLEDGER_MASTER_KEY_FILE"), "file holding the master key (KEYLEDGER_MASTER_KEY_FILE)")
	fs.StringVar(&c.Signup, "signup", getenv("KEYLEDGER_SIGNUP"), "open or closed; default open with --dev, else closed (KEYLEDGER_SIGNUP)")
	fs.StringVar(&c.TLSCert, "tls-cert", getenv("KEYLEDGER_TLS_CERT"), "TLS certificate file (KEYLEDGER_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", getenv("KEYLEDGER_TLS_KEY"), "TLS key file (KEYLEDGER_TLS_KEY)")
	fs.StringVar(&c.BootstrapEmail, "bootstrap-admin-email", getenv("KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL"), "create this super-admin at start if missing (KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL)")
	fs.StringVar(&c.BootstrapPassword, "bootstrap-admin-password", getenv("KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD"), "its password (KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD)")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "KEYLEDGER_LOG_LEVEL", "info"), "debug, info, warn or error (KEYLEDGER_LOG_LEVEL)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", getenv("KEYLEDGER_TRUSTED_PROXIES"), "comma-separated addresses or CIDRs of load balancers whose X-Forwarded-For is believed (KEYLEDGER_TRUSTED_PROXIES)")
	fs.StringVar(&c.changesMaxAge, "changes-max-age", envOr(getenv, "KEYLEDGER_CHANGES_MAX_AGE", "7d"), "how long the change stream keeps notices, e.g. 7d or 36h (KEYLEDGER_CHANGES_MAX_AGE)")
	c.behindTLSProxyEnv = getenv("KEYLEDGER_BEHIND_TLS_PROXY")
	behind, _ := strconv.ParseBool(c.behindTLSProxyEnv)
	fs.BoolVar(&c.BehindTLSProxy, "behind-tls-proxy", behind, "clients reach this server over HTTPS through a TLS-terminating load balancer: session cookies get Secure and responses HSTS (KEYLEDGER_BEHIND_TLS_PROXY)")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas of the JetStream stream and buckets on an external cluster")
	return fs, c
}

// proxies splits the trusted-proxies setting.
func (c *config) proxies() []string {
	var out []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *config) finish() error {
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	c.DataDir = abs
	if c.Signup == "" {
		c.Signup = "closed"
		if c.Dev {
			c.Signup = "open"
		}
	}
	if c.Signup != "open" && c.Signup != "closed" {
		return fmt.Errorf("KEYLEDGER_SIGNUP must be open or closed, not %q", c.Signup)
	}
	if _, err := strconv.ParseBool(c.behindTLSProxyEnv); c.behindTLSProxyEnv != "" && err != nil {
		return fmt.Errorf("KEYLEDGER_BEHIND_TLS_PROXY must be true or false, not %q", c.behindTLSProxyEnv)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("set both KEYLEDGER_TLS_CERT and KEYLEDGER_TLS_KEY, or neither")
	}
	if c.ChangesMaxAge, err = parseMaxAge(c.changesMaxAge); err != nil {
		return fmt.Errorf("KEYLEDGER_CHANGES_MAX_AGE: %w", err)
	}
	return nil
}

// parseMaxAge reads a Go duration or a whole number of days ("7d"), the unit a
// retention is usually thought in. Zero is refused: the change stream must not keep
// notices forever.
func parseMaxAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 7d or 36h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 7d or 36h", s)
		}
	}
	if d < time.Minute {
		return 0, fmt.Errorf("%q: the change stream must keep notices at least a minute", s)
	}
	return d, nil
}

// secure reports whether browsers reach the server over HTTPS: it serves TLS itself,
// or a load balancer in front terminates it. Then session cookies are Secure and
// responses carry Strict-Transport-Security. It is a setting rather than a reading of
// X-Forwarded-Proto per request: whether the site is HTTPS is a fact of the
// deployment, and a cookie flag or HSTS that a missing or spoofed header could turn off
// would fail open.
func (c *config) secure() bool { return c.TLSCert != "" || c.BehindTLSProxy }
