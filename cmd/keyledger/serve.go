package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/keyledger/keyledger/cmd/keyledger/app"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/web"
	"github.com/spf13/cobra"
)

// newServeCommand is `keyledger serve`.
func newServeCommand(cl cli) *cobra.Command {
	fs, c := serverFlags("serve", cl.stderr, cl.getenv)
	cmd := &cobra.Command{
		Use:   "serve [--dev]",
		Short: "run the API and the dashboard",
		Long: `Run the API and the dashboard until SIGINT or SIGTERM.

--dev runs everything on this machine: embedded NATS, a local PostgreSQL (or
--database-url), a generated master key and a bootstrap admin whose login it prints.
Every flag has a KEYLEDGER_ variable with the same meaning; a flag wins over it.`,
		GroupID: groupServer,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), c, cl.stdout, cl.stderr)
		},
	}
	addFlags(cmd, fs)
	completeServerFlags(cmd)
	return cmd
}

// serve runs the server until ctx ends (SIGINT or SIGTERM), then shuts down in order:
// stop accepting HTTP and finish requests, stop the projector, drain NATS, stop
// embedded NATS and the dev database.
func serve(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	if err := c.finish(); err != nil {
		return err
	}
	// Bad certificate files end start-up before anything is opened, not after the log,
	// the database and the projector are up.
	tlsConfig, err := loadTLS(c)
	if err != nil {
		return err
	}
	logger := newLogger(c.LogLevel, stderr)
	limit := applyMemoryLimit(c)
	stopGoal, goal := startMemoryGoal(c, limit)
	defer func() {
		stopGoal()
		debug.SetMemoryLimit(limit)
	}()
	logger.Debug("memory limit", "bytes", limit, "goal", goal, "goal_bytes", c.MemoryGoal)
	p, err := openPlatform(ctx, c, logger)
	if err != nil {
		return err
	}
	defer p.close()
	login, err := bootstrapLoginOf(c)
	if err != nil {
		return err
	}
	var admin *app.Admin
	if login != nil {
		admin = &app.Admin{Email: login.Email, Password: login.Password}
	}
	a, err := app.Start(ctx, app.Config{
		Store: p.store, DB: p.db, Commands: p.handlers, Logger: logger,
		LeaseHolder: leaseHolder(), LeaseTTL: projectorLeaseTTL, LeaseRenew: projectorLeaseRenew, LeasePoll: projectorLeasePoll,
		OwnNATS:       p.embedded != nil,
		ChangesMaxAge: c.ChangesMaxAge,
		Webhooks: &webhooks.Config{
			Guard:   webhooks.Guard{AllowPrivate: c.WebhookAllowPrivate},
			Timeout: c.WebhookTimeout,
		},
		Admin: admin,
		HTTP: httpapi.Config{
			Logger:              logger,
			Signup:              c.Signup,
			Secure:              c.secure(),
			Assets:              web.Assets(),
			WebhookAllowPrivate: c.WebhookAllowPrivate,
			TrustedProxies:      c.proxies(),
		},
		Addr: c.Addr,
		TLS:  tlsConfig,
	})
	if err != nil {
		return err
	}
	if login != nil {
		login.Created = a.AdminCreated
	}
	printWelcome(stdout, c, a.Addr(), login)
	logger.Info("keyledger serving", "addr", a.Addr(), "dev", c.Dev, "nats", natsMode(c))

	var failed error
	select {
	case failed = <-a.Failed():
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := a.Close(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	return failed
}

// The projector lease's timing. After kill -9 of the holder its entry outlives its
// last renewal by the TTL; the server's expiry timer removes it within about 250 ms
// after that (nats-server checks ages on a timer with that floor), and a standby
// takes it on its next poll: at most TTL + 250 ms + poll, about 2.5 s, after the last
// renewal. The holder renews four times per TTL, so three renewals in a row may be
// lost or late (a GC pause, a slow fsync, a NATS reconnect) before it loses the lease;
// if it is paused for longer, the fence on the checkpoint refuses its late commits.
// Each standby costs NATS two requests per poll, which is little.
const (
	projectorLeaseTTL   = 2 * time.Second
	projectorLeaseRenew = projectorLeaseTTL / 4
	projectorLeasePoll  = 250 * time.Millisecond
)

// leaseHolder names this process among the replicas.
func leaseHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// loadTLS reads the certificate and key when TLS is configured; nil means plain HTTP.
func loadTLS(c *config) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", c.TLSCert, c.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func natsMode(c *config) string {
	if c.NATSURL != "" {
		return "external"
	}
	return "embedded"
}

func printWelcome(w io.Writer, c *config, addr string, login *bootstrapLogin) {
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(w, "\nKeyledger is running at %s://%s/\n", scheme, addr)
	switch {
	case login == nil:
	case login.Generated:
		fmt.Fprintf(w, "  log in as %s with password %s\n", login.Email, login.Password)
	default:
		fmt.Fprintf(w, "  log in as %s with the password in KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD\n", login.Email)
	}
	if c.Dev {
		fmt.Fprintf(w, "  development mode: data in %s (delete it to start over)\n", c.DataDir)
	}
	fmt.Fprintln(w)
}
