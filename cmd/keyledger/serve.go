package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/eventstore/natskv"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/authcache"
	"github.com/keyledger/keyledger/projections"
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
	p, err := openPlatform(ctx, c, logger)
	if err != nil {
		return err
	}
	defer p.close()

	// The metrics come first: the event store and the projector report into them
	// before the server that shows them exists.
	metrics, err := httpapi.NewMetrics()
	if err != nil {
		return err
	}
	p.store.ObserveAppends(metrics.ObserveAppend)

	// serve owns the change stream's retention: it sets (or updates) the max age.
	changes, err := changefeed.Open(ctx, p.store, changefeed.WithChangesMaxAge(c.ChangesMaxAge))
	if err != nil {
		return err
	}
	// One replica projects at a time; the others stand by and take over within the
	// lease's TTL (plus a poll) when it stops without releasing, at once when it does.
	projectorLease, err := lease.Open(ctx, p.store, projections.CheckpointName, leaseHolder(), projectorLeaseTTL)
	if err != nil {
		return fmt.Errorf("projector lease: %w", err)
	}
	if p.embedded != nil {
		// Embedded NATS listens on no port and its data dir is locked by this process, so
		// no other replica can hold the lease: an entry there is a previous life of this
		// process (kill -9) that will never renew it. Waiting out its TTL would leave the
		// read models stale for seconds after every restart.
		if err := projectorLease.TakeOver(ctx); err != nil {
			return fmt.Errorf("projector lease: %w", err)
		}
	}
	projector := projections.NewProjector(p.db, p.store, logger).PublishChanges(changes).ObserveBatches(metrics).WithLease(projectorLease, projectorLeaseRenew, projectorLeasePoll)
	projCtx, stopProjector := context.WithCancel(context.WithoutCancel(ctx))
	var projWG sync.WaitGroup
	projWG.Go(func() {
		if err := projector.Run(projCtx); err != nil {
			logger.Error("projector stopped", "err", err)
		}
	})
	defer func() { stopProjector(); projWG.Wait() }()
	// The keyring hears other replicas' data-key rotations and shreds, and flushes its
	// encryption counters; it stops (with a last flush) before NATS is drained.
	keysCtx, stopKeys := context.WithCancel(context.WithoutCancel(ctx))
	var keysWG sync.WaitGroup
	keysWG.Go(func() {
		for {
			err := p.store.Keyring().Run(keysCtx)
			if keysCtx.Err() != nil {
				return
			}
			// Without the watch this replica would seal with a rotated-away version until
			// it restarts: start it again.
			logger.Error("keyring watch stopped; restarting it", "err", err)
			select {
			case <-keysCtx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	})
	defer func() { stopKeys(); keysWG.Wait() }()

	hooks, stopHooks, err := startWebhooks(ctx, c, p, changes, metrics, logger)
	if err != nil {
		return err
	}
	defer stopHooks()

	login, err := bootstrapAdmin(ctx, c, p.handlers)
	if err != nil {
		return err
	}
	// The API keeps sessions and remembered idempotent refusals in buckets beside the
	// log, sealed with the platform key, so that every replica sees them.
	sessions, err := natskv.Open(ctx, p.store, httpapi.SessionsBucket, httpapi.DefaultSessionTTL)
	if err != nil {
		return err
	}
	idempotency, err := natskv.Open(ctx, p.store, httpapi.IdempotencyBucket, httpapi.IdempotencyTTL)
	if err != nil {
		return err
	}
	// Every replica keeps known tokens and sessions in memory; a revocation or a logout
	// answers once every replica has dropped them (httpapi/authcache).
	credentials, err := authcache.Open(ctx, p.store.JetStream(), authcache.Options{Replicas: p.store.Replicas(), Logger: logger})
	if err != nil {
		return err
	}
	srv, err := httpapi.New(httpapi.Config{
		Commands:  p.handlers,
		ReadModel: p.db,
		Store:     p.store,
		Logger:    logger,
		Signup:    c.Signup,
		Secure:    c.secure(),
		Assets:    web.Assets(),
		Metrics:   metrics,
		Webhooks:  hooks,

		Sessions:    sessions,
		Idempotency: idempotency,
		Changes:     changes,
		Keys:        p.store.Keyring(),
		Unavailable: eventstore.IsUnavailable,
		Credentials: credentials,

		WebhookAllowPrivate: c.WebhookAllowPrivate,
		TrustedProxies:      c.proxies(),
	})
	if err != nil {
		credentials.Close()
		return err
	}
	ln, err := listen(c.Addr, tlsConfig)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Listener(ln) }()
	printWelcome(stdout, c, ln.Addr().String(), login)
	logger.Info("keyledger serving", "addr", ln.Addr().String(), "dev", c.Dev, "nats", natsMode(c))

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	return nil
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

func listen(addr string, tlsConfig *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if tlsConfig == nil {
		return ln, nil
	}
	return tls.NewListener(ln, tlsConfig), nil
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
	if login != nil {
		fmt.Fprintf(w, "  log in as %s with password %s\n", login.Email, login.Password)
	}
	if c.Dev {
		fmt.Fprintf(w, "  development mode: data in %s (delete it to start over)\n", c.DataDir)
	}
	fmt.Fprintln(w)
}
