package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
)

// credentials is what `keyledger login` keeps in the user's config dir: the server
// and a personal access token for it (0600, in a 0700 directory).
type credentials struct {
	Server  string `json:"server"`
	Token   string `json:"token"`
	TokenID string `json:"token_id,omitempty"`
	Email   string `json:"email,omitempty"`
	// otherLogin, never saved, is the server of a saved login that resolveCredentials
	// did not use because the command is pointed at another server.
	otherLogin string
}

// userDir is the user's config or cache directory. XDG_CONFIG_HOME / XDG_CACHE_HOME
// and HOME are read through getenv (so tests and `env` wrappers can move them); on
// systems without XDG the os package decides.
func userDir(getenv func(string) string, xdgVar, homeSub string, osDir func() (string, error)) (string, error) {
	if d := getenv(xdgVar); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, homeSub), nil
		}
	}
	return osDir()
}

// configPath is $XDG_CONFIG_HOME/keyledger/config.json (os.UserConfigDir elsewhere).
func configPath(getenv func(string) string) (string, error) {
	dir, err := userDir(getenv, "XDG_CONFIG_HOME", ".config", os.UserConfigDir)
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "keyledger", "config.json"), nil
}

// loadCredentials reads the login; a missing file is an empty login.
func loadCredentials(getenv func(string) string) (credentials, error) {
	path, err := configPath(getenv)
	if err != nil {
		return credentials{}, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return credentials{}, nil
	}
	if err != nil {
		return credentials{}, fmt.Errorf("read the login: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return credentials{}, fmt.Errorf("the login in %s is not valid JSON; run `keyledger login` again", path)
	}
	return c, nil
}

// saveCredentials writes the login atomically with mode 0600 in a 0700 directory.
func saveCredentials(getenv func(string) string, c credentials) (string, error) {
	path, err := configPath(getenv)
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	return path, writePrivateFile(path, append(b, '\n'))
}

// removeCredentials deletes the login file, if any.
func removeCredentials(getenv func(string) string) error {
	path, err := configPath(getenv)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// resolveCredentials finds the server and token. The server: --server, else
// KEYLEDGER_SERVER, else the login's, else the default. The token: KEYLEDGER_TOKEN,
// given explicitly, goes to whatever server the command names; the saved login's token
// goes only to the server that issued it (compared by origin, as gh keeps one
// credential per host), so that `--server http://elsewhere` never hands one server's
// credential to another. When the login belongs to another server the token is left
// empty and otherLogin names the login's server.
func resolveCredentials(getenv func(string) string, serverFlag string) (credentials, error) {
	file, err := loadCredentials(getenv)
	if err != nil && getenv("KEYLEDGER_TOKEN") == "" {
		return credentials{}, err
	}
	c := credentials{Server: file.Server}
	if s := strings.TrimSpace(getenv("KEYLEDGER_SERVER")); s != "" {
		c.Server = s
	}
	if serverFlag != "" {
		c.Server = serverFlag
	}
	if c.Server == "" {
		c.Server = defaultServer
	}
	if t := strings.TrimSpace(getenv("KEYLEDGER_TOKEN")); t != "" {
		c.Token = t
		return c, nil
	}
	if file.Token != "" {
		if loginServer := file.loginServer(); sameOrigin(c.Server, loginServer) {
			c.Token, c.TokenID, c.Email = file.Token, file.TokenID, file.Email
		} else {
			c.otherLogin = loginServer
		}
	}
	return c, nil
}

// loginServer is the server a saved login belongs to. A login file without a server
// (never written by `keyledger login`) belongs to the default server, the one its
// token was sent to without KEYLEDGER_SERVER.
func (c credentials) loginServer() string {
	if s := strings.TrimSpace(c.Server); s != "" {
		return s
	}
	return defaultServer
}

// errNoLoginFor says that the saved login belongs to another server than server.
func errNoLoginFor(server, loginServer string) error {
	return fmt.Errorf("no login for %s (the saved login is for %s, and its token is sent only there): "+
		"run `keyledger login --server %s`, or set KEYLEDGER_TOKEN to a token of that server", server, loginServer, server)
}

// serverOrigin is a server URL's origin, normalized: the scheme and host in lower
// case and the port, 80 for http and 443 for https when the URL has none; the path
// does not count. ok is false for what is not an http(s) URL with a host.
func serverOrigin(raw string) (origin string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), strconv.FormatUint(n, 10)), true
}

// sameOrigin reports whether two server URLs name the same origin.
func sameOrigin(a, b string) bool {
	oa, okA := serverOrigin(a)
	ob, okB := serverOrigin(b)
	return okA && okB && oa == ob
}

// writePrivateFile writes data to path atomically (a temporary file renamed over it),
// readable by the owner only, creating the directory with 0700.
func writePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// table prints aligned columns.
type table struct{ w *tabwriter.Writer }

func newTable(w io.Writer, header ...string) table {
	t := table{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t table) row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.w, "\t")
		}
		// A tab or newline in a cell (a name is never one, an email could be)
		// would break the columns.
		fmt.Fprint(t.w, strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c))
	}
	fmt.Fprintln(t.w)
}

func (t table) flush() error { return t.w.Flush() }
