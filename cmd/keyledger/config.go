package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/spf13/pflag"
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
	// DataKeyMaxEncryptions rotates an organization's data key after this many seals.
	DataKeyMaxEncryptions uint64
	// ChangesMaxAge is how long the change stream keeps a notice; finish parses it from
	// changesMaxAge, the flag's text, which also takes days ("7d").
	ChangesMaxAge time.Duration
	changesMaxAge string
	// BehindTLSProxy says that clients reach the server through a load balancer that
	// terminates TLS: the server listens in plain HTTP, but browsers speak HTTPS.
	BehindTLSProxy bool
	// WebhookAllowPrivate lets webhooks reach loopback, private and link-local
	// addresses; --dev does too. WebhookTimeout bounds one delivery attempt.
	WebhookAllowPrivate bool
	WebhookTimeout      time.Duration
	webhookTimeout      string
	// MemoryLimit is the Go runtime's soft memory limit that serve sets when
	// memoryLimitSet (memlimit.go); finish resolves it from memoryLimit, the flag's
	// text, and goMemLimit, the GOMEMLIMIT variable the runtime has already applied.
	MemoryLimit    int64
	memoryLimitSet bool
	memoryLimit    string
	goMemLimit     string
	// MemoryGoal is what the soft limit follows the live heap down to (memoryGoal in
	// memlimit.go); 0 for none. memoryGoal is the flag's text.
	MemoryGoal int64
	memoryGoal string
	// fromEnv fills the flags the command line left out from their variables; finish
	// calls it, so that a config parsed without the command tree (as tests do) reads
	// its variables too.
	fromEnv func() error
}

// serverFlags declares serve's flags, each with its KEYLEDGER_ variable, which finish
// reads for every flag the command line left out.
func serverFlags(name string, stderr io.Writer, getenv func(string) string) (*pflag.FlagSet, *config) {
	c := &config{}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.BoolVar(&c.Dev, "dev", false, "development mode: embedded NATS, a local PostgreSQL, a generated master key and a bootstrap admin")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.DataDir, "data-dir", "./.keyledger", "data directory for embedded NATS, the dev database and keys")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL")
	fs.StringVar(&c.NATSURL, "nats-url", "", "external NATS URL; unset runs NATS embedded")
	fs.StringVar(&c.MasterKey, "master-key", "", "master key, 64 hex digits or base64 of 32 bytes")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "file holding the master key")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas of the JetStream stream and buckets on an external cluster")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Signup, "signup", "", "open or closed; default open with --dev, else closed")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.BoolVar(&c.BehindTLSProxy, "behind-tls-proxy", false, "clients reach this server over HTTPS through a TLS-terminating load balancer: session cookies get Secure and responses HSTS")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of load balancers whose X-Forwarded-For is believed")
	fs.StringVar(&c.BootstrapEmail, "bootstrap-admin-email", "", "create this super-admin at start if missing")
	fs.StringVar(&c.BootstrapPassword, "bootstrap-admin-password", "", "its password")
	fs.StringVar(&c.changesMaxAge, "changes-max-age", "7d", "how long the change stream keeps notices, e.g. 7d or 36h")
	fs.Uint64Var(&c.DataKeyMaxEncryptions, "data-key-max-encryptions", eventstore.DefaultDataKeyMaxEncryptions, "rotate an organization's data key after it sealed this many values (AES-GCM with random nonces: at most 2^32)")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks use loopback, private and link-local addresses (on with --dev)")
	fs.StringVar(&c.webhookTimeout, "webhook-timeout", "10s", "how long one webhook delivery attempt may take, e.g. 10s")
	fs.StringVar(&c.memoryLimit, "memory-limit", "", "the ceiling of the Go runtime's soft memory limit (under it the limit follows --memory-goal), e.g. 512MiB, 2GiB or off; default: GOMEMLIMIT when set, else "+strconv.FormatInt(defaultMemoryLimit>>20, 10)+"MiB")
	fs.StringVar(&c.memoryGoal, "memory-goal", strconv.FormatInt(defaultMemoryGoal>>20, 10)+"MiB", "keep the heap within this while the live heap is under two thirds of it (the soft limit follows the live heap between this and the memory limit), or off")
	fs.VisitAll(func(f *pflag.Flag) { withEnv(fs, f.Name, flagVariable(f.Name)) })
	c.fromEnv = func() error {
		c.goMemLimit = getenv("GOMEMLIMIT")
		return applyEnv(fs, getenv)
	}
	return fs, c
}

// offlineFlags are serverFlags for the commands that open the log and the database
// but serve nothing (migrate, admin, replay, audit, projections, keys): their help
// leaves out the flags about serving HTTP and the dashboard. Those stay accepted,
// hidden, so that a script that passed them (they did nothing there) keeps working.
func offlineFlags(name string, stderr io.Writer, getenv func(string) string) (*pflag.FlagSet, *config) {
	fs, c := serverFlags(name, stderr, getenv)
	serveOnly := []string{
		"addr", "signup", "tls-cert", "tls-key", "bootstrap-admin-email", "bootstrap-admin-password",
		"trusted-proxies", "changes-max-age", "behind-tls-proxy", "webhook-allow-private", "webhook-timeout",
		"memory-limit", "memory-goal",
	}
	for _, n := range serveOnly {
		_ = fs.MarkHidden(n)
	}
	return fs, c
}

// logOnlyFlags is offlineFlags for the commands that read the event log alone (replay,
// keys rotate): they never open PostgreSQL, so --database-url is not theirs to show.
func logOnlyFlags(name string, stderr io.Writer, getenv func(string) string) (*pflag.FlagSet, *config) {
	fs, c := offlineFlags(name, stderr, getenv)
	_ = fs.MarkHidden("database-url")
	return fs, c
}

// flagVariable is a server flag's variable: KEYLEDGER_ and the flag's name in upper
// snake case (--data-dir, KEYLEDGER_DATA_DIR). One rule, so none can drift.
func flagVariable(flag string) string {
	return "KEYLEDGER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
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
	if c.fromEnv != nil {
		if err := c.fromEnv(); err != nil {
			return err
		}
	}
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		// It was read as info: a typo (verbose, warning) silently kept the log as it was.
		return fmt.Errorf("KEYLEDGER_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		// JetStream replicates a stream 1 to 5 times; 0 and below were taken as 1 by
		// some requests and refused by others, after the start had begun.
		return fmt.Errorf("KEYLEDGER_REPLICAS must be between 1 and 5, not %d", c.Replicas)
	}
	if c.Signup != "open" && c.Signup != "closed" {
		return fmt.Errorf("KEYLEDGER_SIGNUP must be open or closed, not %q", c.Signup)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("set both KEYLEDGER_TLS_CERT and KEYLEDGER_TLS_KEY, or neither")
	}
	if c.ChangesMaxAge, err = parseMaxAge(c.changesMaxAge); err != nil {
		return fmt.Errorf("KEYLEDGER_CHANGES_MAX_AGE: %w", err)
	}
	if c.DataKeyMaxEncryptions == 0 || c.DataKeyMaxEncryptions > 1<<32 {
		return fmt.Errorf("KEYLEDGER_DATA_KEY_MAX_ENCRYPTIONS must be between 1 and 2^32 (4294967296), not %d", c.DataKeyMaxEncryptions)
	}
	if c.MemoryLimit, c.memoryLimitSet, err = memoryLimit(c.memoryLimit, c.goMemLimit); err != nil {
		return err
	}
	if c.MemoryGoal, err = parseMemoryGoal(c.memoryGoal); err != nil {
		return err
	}
	if c.WebhookTimeout, err = time.ParseDuration(strings.TrimSpace(c.webhookTimeout)); err != nil || c.WebhookTimeout <= 0 {
		return fmt.Errorf("KEYLEDGER_WEBHOOK_TIMEOUT must be a positive duration such as 10s, not %q", c.webhookTimeout)
	}
	if c.Dev {
		c.WebhookAllowPrivate = true
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
