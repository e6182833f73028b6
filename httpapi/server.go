package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/authcache"
	"github.com/keyledger/keyledger/httpapi/webhooks"
)

// Signup policies.
const (
	SignupOpen   = "open"
	SignupClosed = "closed"
)

// Bucket names beside the log.
const (
	SessionsBucket    = "KEYLEDGER_SESSIONS"
	IdempotencyBucket = "KEYLEDGER_IDEMPOTENCY"
)

// Defaults of the tunables in Config.
const (
	DefaultSessionTTL    = 12 * time.Hour
	DefaultWaitTimeout   = 5 * time.Second
	DefaultReadTimeout   = time.Minute
	DefaultLoginFailures = 5
	DefaultLoginWindow   = 15 * time.Minute
	IdempotencyTTL       = 24 * time.Hour
	MaxBodyBytes         = 1 << 20
	// readBodyLimit is how much fasthttp reads before giving up on a request. It is
	// larger than MaxBodyBytes so that a body somewhat over the limit is read whole and
	// refused with a clean 413 (fasthttp refuses a larger one before reading it and
	// closes the connection, which clients often see as a reset, not as the 413).
	readBodyLimit         = 8 << 20
	defaultReadHeaderSize = 16 << 10
)

// Config is everything the server needs, passed in by cmd/keyledger (or a test).
type Config struct {
	Commands  *commands.Handlers
	ReadModel ReadModel
	// Store is the event log (*eventstore.Store): the views a command is answered
	// from, as_of and audit verification, and how far the log goes (readiness).
	Store  EventLog
	Logger *slog.Logger
	// Sessions and Idempotency are the buckets beside the log (SessionsBucket and
	// IdempotencyBucket, *natskv.Bucket), opened by the caller: Sessions' entries
	// expire no sooner than SessionTTL, Idempotency's after IdempotencyTTL.
	Sessions    SessionRecords
	Idempotency IdempotencyRecords
	// Changes is the change feed the SSE stream follows (*changefeed.Changes).
	Changes ChangeFeed
	// Keys open the values an integration fetches (the store's keyring).
	Keys commands.ValueOpeners
	// Unavailable reports whether an error means that the log or a bucket did not
	// answer in time (eventstore.IsUnavailable): such requests are answered 503 with
	// Retry-After instead of 500.
	Unavailable func(error) bool
	// Signup is "open" or "closed"; empty means closed.
	Signup string
	// Secure means clients reach the server over TLS: cookies get Secure, responses
	// get Strict-Transport-Security.
	Secure bool
	// Assets is the built dashboard (web.Assets()); nil or without index.html serves a
	// page that says the UI is not built.
	Assets fs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TrustedProxies are the addresses or networks (CIDR) whose X-Forwarded-For is
	// believed, from the right. Empty: the client address is the connection's.
	TrustedProxies []string
	// SessionTTL is how long a login lasts (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	// WaitTimeout bounds waiting for the projection after a command or for min_seq.
	WaitTimeout time.Duration
	// ReadTimeout bounds reading one request, from the connection's first byte or its
	// last answer (DefaultReadTimeout when zero).
	ReadTimeout time.Duration
	// LoginFailures failed logins per email and address within LoginWindow lead to
	// 429 until the window has passed.
	LoginFailures int
	LoginWindow   time.Duration
	// Credentials is the authentication cache (*authcache.Cache, opened with AuthCache's
	// options by the wiring); the server closes it on Shutdown.
	Credentials CredentialCache
	// AuthCache tunes the authentication cache (httpapi/authcache); zero values take
	// its defaults.
	AuthCache authcache.Options
	// MaxFetchedNames is how many names a values fetch's audit event lists before it
	// records their count and digest instead (domain.MaxFetchedNames when zero).
	MaxFetchedNames int
	// Metrics are served at /metrics; nil makes the server its own, which then show
	// nothing of the event store's appends or the projector's batches.
	Metrics *Metrics
	// Webhooks is the webhooks' delivery state (*webhooks.Store).
	Webhooks WebhookDeliveries
	// WebhookAllowPrivate lets webhooks use loopback, private and link-local addresses
	// (serve --dev, --webhook-allow-private).
	WebhookAllowPrivate bool
}

// Server is the HTTP API. It embeds the Fiber app: Listener, Test and
// ShutdownWithContext are the app's.
type Server struct {
	*fiber.App
	cmd         *commands.Handlers
	rm          ReadModel
	store       EventLog
	log         *slog.Logger
	signupOpen  bool
	secure      bool
	now         func() time.Time
	waitTimeout time.Duration
	readTimeout time.Duration
	sessions    *sessionStore
	idem        IdempotencyRecords
	limiter     *loginLimiter
	ui          *ui
	metrics     *Metrics
	proxies     trustedProxies
	fetch       *commands.FetchValuesHandler
	reveal      *commands.RevealSecretHandler
	// update decides updates of secrets not in the command cache on the read
	// models' copies, as far as the log confirms them.
	update *commands.UpdateSecretHandler
	// deleteSecrets decides deletions the same way.
	deleteSecrets *commands.DeleteSecretHandler
	feed          ChangeFeed
	unavailable   func(error) bool
	hooks         WebhookDeliveries
	hookGuard     webhooks.Guard
	auth          CredentialCache
	fetchSlots    chan struct{} // bounds values fetches in progress (memory)
	// streams is the parent of every long-lived response (the change feed); Shutdown
	// cancels it so that a graceful stop does not wait for clients that never hang up.
	streams     context.Context
	stopStreams context.CancelFunc
}

// New builds the server on the stores its caller opened.
func New(cfg Config) (*Server, error) {
	if cfg.Commands == nil || !cfg.ReadModel.complete() || cfg.Store == nil || cfg.Sessions == nil ||
		cfg.Idempotency == nil || cfg.Changes == nil || cfg.Keys == nil || cfg.Unavailable == nil || cfg.Webhooks == nil || cfg.Credentials == nil {
		return nil, errors.New("httpapi: Commands, every part of ReadModel, Store, Sessions, Idempotency, Changes, Keys, Unavailable, Webhooks and Credentials are required")
	}
	s := &Server{
		cmd: cfg.Commands, rm: cfg.ReadModel, store: cfg.Store, log: cfg.Logger,
		secure: cfg.Secure, now: cfg.Now, waitTimeout: cfg.WaitTimeout, readTimeout: cfg.ReadTimeout, metrics: cfg.Metrics,
		idem: cfg.Idempotency, feed: cfg.Changes, unavailable: cfg.Unavailable,
	}
	if s.metrics == nil {
		m, err := NewMetrics()
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}
	switch cfg.Signup {
	case SignupOpen:
		s.signupOpen = true
	case SignupClosed, "":
	default:
		return nil, fmt.Errorf("httpapi: signup must be %q or %q, not %q", SignupOpen, SignupClosed, cfg.Signup)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.readTimeout <= 0 {
		s.readTimeout = DefaultReadTimeout
	}
	if s.waitTimeout <= 0 {
		s.waitTimeout = DefaultWaitTimeout
	}
	ttl := cfg.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	failures, window := cfg.LoginFailures, cfg.LoginWindow
	if failures <= 0 {
		failures = DefaultLoginFailures
	}
	if window <= 0 {
		window = DefaultLoginWindow
	}
	s.limiter = newLoginLimiter(failures, window, s.now)
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.proxies = proxies
	s.sessions = &sessionStore{bucket: cfg.Sessions, ttl: ttl, now: s.now}
	s.hooks, s.hookGuard = cfg.Webhooks, webhooks.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	s.auth = cfg.Credentials
	s.fetchSlots = make(chan struct{}, 2*max(1, runtime.GOMAXPROCS(0)))
	s.fetch = commands.NewFetchValuesHandler(cfg.Store, cfg.Keys, cfg.ReadModel.Secrets).WithMaxNames(cfg.MaxFetchedNames)
	s.reveal = cfg.Commands.RevealSecret.WithSnapshots(cfg.ReadModel.Secrets)
	s.update = cfg.Commands.UpdateSecret.WithSnapshots(cfg.ReadModel.Secrets)
	s.deleteSecrets = cfg.Commands.DeleteSecret.WithSnapshots(cfg.ReadModel.Secrets)
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.ui = newUI(cfg.Assets)
	s.App = fiber.New(s.fiberConfig())
	s.routes()
	return s, nil
}

func (s *Server) fiberConfig() fiber.Config {
	return fiber.Config{
		AppName:               "keyledger",
		BodyLimit:             readBodyLimit,
		ReadBufferSize:        defaultReadHeaderSize,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		// Values handed to commands, loggers and limiters outlive the handler; Fiber's
		// zero-copy strings would change under them.
		Immutable:   true,
		ReadTimeout: s.readTimeout,
		IdleTimeout: 2 * time.Minute,
		// Answers are encoded by goccy/go-json, a drop-in for encoding/json's Marshal
		// (same tags, Marshaler, HTML escaping) at a third of its CPU: a grid page of
		// 100 rows spent a fifth of its server time in encoding/json.
		JSONEncoder: gojson.Marshal,
	}
}

// routes registers every route. Each API route names its middleware explicitly:
// authenticate (who, CSRF, min_seq) and idempotent (replays of mutations); a route
// that runs a command wraps its handler in command, which times it under the
// command's name.
func (s *Server) routes() {
	app := s.App
	app.Use(s.securityHeaders)
	app.Use(s.requestLog)
	app.Use(limitBody)
	app.Use(requireJSONBody)
	app.Use(checkQuery)
	app.Use(rejectStrayCursor)
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.serveMetrics)
	app.Get("/api/openapi.json", s.openapi)

	api := app.Group("/api/v1")
	auth, idem := s.authenticate, s.idempotent

	api.Post("/auth/signup", s.command("register_user", s.signup))
	api.Post("/auth/login", s.command("authenticate", s.login))
	api.Post("/auth/logout", s.logout)
	// A service token may ask who it is (which organization, which environments).
	api.Get("/me", s.serviceTokenOrUser, s.me)
	api.Post("/admin/users", auth, idem, s.command("register_user", s.createUser))
	api.Get("/admin/audit", auth, s.platformAudit)
	// The idempotency store binds a token creation's key to its request and keeps its
	// refusals only, never a token; the log answers a retry with the same key (the
	// first result, without the token).
	api.Post("/auth/tokens", auth, idem, s.command("create_personal_token", s.createToken))
	api.Get("/auth/tokens", auth, s.listTokens)
	api.Delete("/auth/tokens/:id", auth, idem, s.command("revoke_personal_token", s.revokeToken))

	api.Get("/orgs", auth, s.listOrgs)
	api.Post("/orgs", auth, idem, s.command("create_organization", s.createOrg))
	api.Get("/orgs/:org", auth, s.getOrg)
	api.Patch("/orgs/:org", auth, idem, s.command("update_organization", s.updateOrg))
	api.Delete("/orgs/:org", auth, idem, s.command("erase_organization", s.eraseOrg))
	api.Get("/orgs/:org/environments", auth, s.listEnvironments)
	api.Get("/orgs/:org/keys", auth, s.listDataKeys)
	api.Post("/orgs/:org/keys/rotate", auth, idem, s.command("rotate_data_key", s.rotateDataKey))
	api.Get("/orgs/:org/members", auth, s.listMembers)
	api.Post("/orgs/:org/members", auth, idem, s.command("add_member", s.addMember))
	api.Patch("/orgs/:org/members/:user", auth, idem, s.command("change_member_role", s.changeMemberRole))
	api.Delete("/orgs/:org/members/:user", auth, idem, s.command("remove_member", s.removeMember))

	api.Get("/orgs/:org/secrets", auth, s.listSecrets)
	api.Post("/orgs/:org/secrets", auth, idem, s.command("create_secret", s.createSecret))
	api.Get("/orgs/:org/secrets/:secret", auth, s.getSecret)
	api.Patch("/orgs/:org/secrets/:secret", auth, idem, s.command("update_secret", s.updateSecret))
	api.Delete("/orgs/:org/secrets/:secret", auth, idem, s.command("delete_secret", s.deleteSecret))
	// Reveal is never replayed: its response holds a value in clear.
	api.Post("/orgs/:org/secrets/:secret/reveal", auth, s.command("reveal_secret", s.revealSecret))
	api.Get("/orgs/:org/secrets/:secret/versions", auth, s.listVersions)
	api.Post("/orgs/:org/secrets/:secret/rollback", auth, idem, s.command("rollback_secret", s.rollbackSecret))

	api.Get("/orgs/:org/audit", auth, s.listAudit)
	api.Get("/orgs/:org/audit/export", auth, s.exportAudit)
	api.Get("/orgs/:org/audit/verify", auth, s.verifyAudit)
	api.Get("/orgs/:org/access", auth, s.accessReview)

	api.Post("/orgs/:org/service-tokens", auth, idem, s.command("create_service_token", s.createServiceToken))
	api.Get("/orgs/:org/service-tokens", auth, s.listServiceTokens)
	api.Delete("/orgs/:org/service-tokens/:id", auth, idem, s.command("revoke_service_token", s.revokeServiceToken))
	api.Get("/orgs/:org/environments/:env/values", s.serviceTokenOrUser, s.command("fetch_values", s.fetchValues))
	api.Get("/orgs/:org/changes", auth, s.changes)
	// The idempotency store binds a webhook creation's key to its request (the same
	// key on another route is refused) and keeps its refusals only, never its answer,
	// which holds the signing secret; the log answers a retry with the same key.
	api.Post("/orgs/:org/webhooks", auth, idem, s.command("create_webhook", s.createWebhook))
	api.Get("/orgs/:org/webhooks", auth, s.listWebhooks)
	api.Delete("/orgs/:org/webhooks/:id", auth, idem, s.command("delete_webhook", s.deleteWebhook))
	api.Get("/orgs/:org/webhooks/:id/deliveries", auth, s.listDeliveries)
	api.Post("/orgs/:org/webhooks/:id/deliveries/:delivery/redeliver", auth, idem, s.redeliverWebhook)

	app.All("/api/*", func(*fiber.Ctx) error { return errNotFound() })
	app.Get("/*", s.ui.serve)
}

// Shutdown ends the change streams, then shuts the HTTP server down gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopStreams()
	defer s.auth.Close()
	return s.ShutdownWithContext(ctx)
}
