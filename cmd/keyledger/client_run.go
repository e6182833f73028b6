package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

// Exit codes of a command wrapper when the command cannot run (as env, nohup and
// timeout use them).
const (
	exitCannotExecute = 126
	exitNotFound      = 127
)

// runOptions are run's flags.
type runOptions struct {
	server, org, env string
	fallback         bool
	fallbackFile     string
	forwardSignals   bool
	timeout          time.Duration
	argv             []string
}

// newRunCommand is `keyledger run -- CMD`.
func newRunCommand(cl cli) *cobra.Command {
	var f clientFlags
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --org O --env E [--fallback] -- CMD [ARGS…]",
		Short: "run CMD with the environment's values in its environment",
		Long: `Fetch the environment's values and run CMD with them added to its environment.
Signals are forwarded to CMD and its exit code becomes keyledger's. Flags end at CMD:
what follows it is CMD's.

Every successful run keeps an AES-256-GCM cache of the values, keyed from the token;
with --fallback, run starts from that cache when the fetch fails, and says why on
stderr.`,
		GroupID: groupClient,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.server, o.org, o.argv = f.server, f.org, args
			if len(o.argv) == 0 {
				return errors.New("usage: keyledger run --org O --env E [--fallback] -- CMD [ARGS…]")
			}
			slug, err := environmentSlug(f.env)
			if err != nil {
				return err
			}
			o.env = slug
			code, err := cl.runChild(cmd.Context(), o)
			if err != nil {
				return err
			}
			if code != 0 {
				cl.exit(code)
			}
			return nil
		},
	}
	// CMD's own flags (sh -c, ls -l) are not keyledger's.
	cmd.Flags().SetInterspersed(false)
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	f.addEnvFlag(cmd, "environment: development, staging or production (or dev, stg, prod)")
	cmd.Flags().BoolVar(&o.fallback, "fallback", false, "when the server is unreachable, start from the encrypted cache of the last successful fetch")
	cmd.Flags().StringVar(&o.fallbackFile, "fallback-file", "", "the cache file (default: one per server, org and env under the user cache dir)")
	cmd.Flags().BoolVar(&o.forwardSignals, "forward-signals", false, "forward SIGINT and SIGQUIT even when the terminal already sends them to CMD")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the server before giving up (or falling back)")
	return cmd
}

// runChild runs `keyledger run`: it fetches the environment's values, starts CMD with
// them added to its environment, forwards signals to it and returns its exit code.
//
// The parent stays (exec.Cmd) rather than replacing itself (syscall.Exec): it writes
// the fallback cache while CMD starts instead of before, it runs the same way on every
// OS and inside tests, and the price — one idle process and forwarded signals — is
// small. Nothing of the values is printed.
func (cl cli) runChild(ctx context.Context, o runOptions) (int, error) {
	c, cred, err := cl.connect(o.server)
	if err != nil {
		return 0, err
	}
	cache, err := newFallbackCache(cl.getenv, o.fallbackFile, c.BaseURL(), o.org, o.env)
	if err != nil {
		return 0, err
	}
	fetched, err := fetchValues(ctx, c, cred.Token, o)
	values, fromServer := fetched.Values, err == nil
	if err != nil {
		values, err = cl.fallBack(err, cache, cred.Token, o)
		if err != nil {
			return 0, err
		}
	}
	env, err := childEnvironment(os.Environ(), values)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(o.argv[0], o.argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, cl.stdin, cl.stdout, cl.stderr
	return cl.supervise(cmd, o.forwardSignals, func() {
		if fromServer {
			cl.saveFallback(cache, cred.Token, fetched)
		}
	})
}

// fetchValues resolves the organization and fetches the environment's values within
// the run's timeout.
func fetchValues(ctx context.Context, c *client.Client, token string, o runOptions) (client.Values, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	orgID, err := resolveOrg(ctx, c, o.org, token)
	if err != nil {
		return client.Values{}, err
	}
	return c.Values(ctx, orgID, o.env)
}

// fallBack decides what a failed fetch means. Without --fallback every failure is an
// error. With it, the cache of the last successful fetch is used whatever stopped this
// one (an outage, or a token refused since), as Doppler's --fallback does, and stderr
// says why: the values on this machine were already here, revoking the token cannot
// take them back (rotate the secrets for that), and a deploy during an incident should
// still start.
func (cl cli) fallBack(fetchErr error, cache fallbackCache, token string, o runOptions) (map[string]string, error) {
	if !o.fallback {
		return nil, fetchErr
	}
	p, err := cache.read(token)
	if err != nil {
		return nil, fmt.Errorf("%w; the fallback cache cannot be used: %v", fetchErr, err)
	}
	fmt.Fprintf(cl.stderr, "keyledger: %v\nkeyledger: using the fallback cache: %s values of %s as fetched at %s\n",
		fetchErr, o.env, o.org, p.FetchedAt.UTC().Format(time.RFC3339))
	return p.Values, nil
}

func (cl cli) saveFallback(cache fallbackCache, token string, v client.Values) {
	p := fallbackPayload{Values: v.Values, Seq: v.Seq, FetchedAt: time.Now().UTC()}
	if err := cache.write(token, p); err != nil {
		fmt.Fprintf(cl.stderr, "keyledger: warning: could not write the fallback cache: %v\n", err)
	}
}

// childEnvironment is base with values added; a value replaces a variable of the same
// name. A value with a NUL byte cannot be an environment variable.
func childEnvironment(base []string, values map[string]string) ([]string, error) {
	out := make([]string, 0, len(base)+len(values))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, replaced := values[name]; !replaced {
			out = append(out, kv)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if strings.ContainsRune(values[name], 0) {
			return nil, fmt.Errorf("the value of %s holds a NUL byte, which an environment variable cannot", name)
		}
		out = append(out, name+"="+values[name])
	}
	return out, nil
}

// supervise starts cmd, runs whileRunning beside it, forwards SIGINT, SIGTERM, SIGHUP
// and SIGQUIT until it exits
// and returns its exit code (128+N when signal N killed it). SIGINT and SIGQUIT typed
// at a terminal reach every process of the foreground group, CMD included; forwarding
// them too would deliver them twice (a second Ctrl-C makes many programs quit without
// cleaning up), so they are forwarded only when this process group is not the
// terminal's foreground one, or with --forward-signals.
func (cl cli) supervise(cmd *exec.Cmd, forwardAll bool, whileRunning func()) (int, error) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return cl.startFailed(cmd.Args[0], err), nil
	}
	terminalSends := !forwardAll && inForegroundOfTerminal()
	done := make(chan struct{})
	forwarding := make(chan struct{})
	go func() {
		defer close(forwarding)
		for {
			select {
			case s := <-sigs:
				if terminalSends && (s == syscall.SIGINT || s == syscall.SIGQUIT) {
					continue
				}
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	whileRunning()
	err := cmd.Wait()
	close(done)
	<-forwarding
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, fmt.Errorf("wait for %s: %w", cmd.Args[0], err)
	}
	return exitCode(cmd.ProcessState), nil
}

// startFailed reports a command that could not start, and returns the shell's code.
func (cl cli) startFailed(name string, err error) int {
	fmt.Fprintf(cl.stderr, "keyledger: cannot run %s: %v\n", name, unwrapExecError(err))
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotExecute
}

func unwrapExecError(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
