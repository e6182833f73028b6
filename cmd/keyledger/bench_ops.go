package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyledger/keyledger/domain/jsonappend"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// The operations of the timed phases, on the worker's benchConn. Each sends the
// method, path and JSON body the typed client sends for it (byte for byte: encoding/json
// writes these bodies' fields in this order, map keys sorted, and the strings here need
// no escaping; TestBenchRequestsAreTheTypedClients compares them) and checks the
// answer: a 2xx whose body is the wire type the typed client decodes it into (a reveal
// decoded with json.Unmarshal, which also refuses anything after the value; a secret
// row and a values fetch checked by hand, see bench_answer.go), about the secret asked
// for.

// benchPaths are the escaped paths of the organization's routes, made once.
type benchPaths struct {
	secrets string // /api/v1/orgs/{org}/secrets
	values  string // /api/v1/orgs/{org}/environments/production/values
}

func newBenchPaths(org string) benchPaths {
	orgPath := client.APIPrefix + "/orgs/" + url.PathEscape(org)
	return benchPaths{
		secrets: orgPath + "/secrets",
		values:  orgPath + "/environments/" + client.Production + "/values",
	}
}

// createSecret creates the secret name (its bytes) with a fresh value in each of envs
// (sorted, as encoding/json writes a map's keys), as CreateSecret does.
func (b *benchRun) createSecret(ctx context.Context, w *benchWorker, name []byte, envs ...string) (secretAnswer, error) {
	body := append(w.body[:0], `{"name":`...)
	body = jsonappend.String(body, string(name))
	body = appendBenchValues(append(body, ','), envs)
	w.body = append(body, '}')
	s, err := b.secretAnswer(ctx, w, http.MethodPost, w.body, b.paths.secrets)
	if err == nil && !bytes.Equal(s.name, name) {
		return s, errors.New("keyledger bench: a create answered another secret")
	}
	return s, err
}

// getSecret reads one secret, as GetSecret does.
func (b *benchRun) getSecret(ctx context.Context, w *benchWorker, id string) (secretAnswer, error) {
	s, err := b.secretAnswer(ctx, w, http.MethodGet, nil, b.paths.secrets, "/", url.PathEscape(id))
	if err == nil && string(s.id) != id {
		return s, errors.New("keyledger bench: a read answered another secret")
	}
	return s, err
}

// updateSecret sets a fresh production value of secret id, based on version expected
// when it is not nil, as UpdateSecret does with Values (and ExpectedVersion).
func (b *benchRun) updateSecret(ctx context.Context, w *benchWorker, id string, expected *int) (secretAnswer, error) {
	body := appendBenchValues(append(w.body[:0], '{'), []string{client.Production})
	if expected != nil {
		body = append(body, `,"expected_version":`...)
		body = strconv.AppendInt(body, int64(*expected), 10)
	}
	w.body = append(body, '}')
	s, err := b.secretAnswer(ctx, w, http.MethodPatch, w.body, b.paths.secrets, "/", url.PathEscape(id))
	if err == nil && string(s.id) != id {
		return s, errors.New("keyledger bench: an update answered another secret")
	}
	return s, err
}

// secretAnswer sends the request on w's connection as the admin and checks that a 2xx
// answer is a secret row (parseSecretAnswer).
func (b *benchRun) secretAnswer(ctx context.Context, w *benchWorker, method string, body []byte, path ...string) (secretAnswer, error) {
	answer, err := w.conn.do(ctx, method, b.token, body, path...)
	if err != nil {
		return secretAnswer{}, err
	}
	s, err := parseSecretAnswer(answer)
	if err != nil {
		return s, fmt.Errorf("keyledger bench: decode the response of %s %s: %w", method, strings.Join(path, ""), err)
	}
	return s, nil
}

// reveal reveals secret id's value in env, as RevealSecret does.
func (b *benchRun) reveal(ctx context.Context, w *benchWorker, id, env string) (wire.Revealed, error) {
	body := append(w.body[:0], `{"env":`...)
	body = jsonappend.String(body, env)
	w.body = append(body, '}')
	var out wire.Revealed
	if err := b.doJSON(ctx, w, http.MethodPost, b.token, w.body, &out, b.paths.secrets, "/", url.PathEscape(id), "/reveal"); err != nil {
		return out, err
	}
	if out.Env != env {
		return out, errors.New("keyledger bench: a reveal answered another environment")
	}
	return out, nil
}

// values fetches every production value with the service token, as Values does, and
// checks the answer (checkValuesAnswer).
func (b *benchRun) values(ctx context.Context, w *benchWorker) error {
	answer, err := w.conn.do(ctx, http.MethodGet, b.serviceToken, nil, b.paths.values)
	if err != nil {
		return err
	}
	if err := checkValuesAnswer(answer); err != nil {
		return fmt.Errorf("keyledger bench: decode the response of GET %s: %w", b.paths.values, err)
	}
	return nil
}

// doJSON sends the request on w's connection and decodes a 2xx answer into out.
func (b *benchRun) doJSON(ctx context.Context, w *benchWorker, method, token string, body []byte, out any, path ...string) error {
	answer, err := w.conn.do(ctx, method, token, body, path...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("keyledger bench: decode the response of %s %s: %w", method, strings.Join(path, ""), err)
	}
	return nil
}

// gridPage reads one grid page (query is "?limit=…", encoded) and checks it as a load
// generator does: a 200, a whole and well-formed JSON body, and at least one row. It
// does not decode the rows into the client's types: on the benchmark's two cores that
// cost the bench about as much CPU per page as the server spent answering it, and a
// phase measured the two sharing the machine rather than the server. For the same
// reason a body is checked with json.Valid only the first time those exact bytes
// arrive (by a 64-bit hash): json.Valid took ~0.3-0.5 ms per 60 KB page, more than the
// server's CPU for it, and a phase answers the same pages (unchanged secrets) many
// times. The verdict is json.Valid's for every page.
func (b *benchRun) gridPage(ctx context.Context, w *benchWorker, query string) error {
	body, err := w.conn.do(ctx, http.MethodGet, b.token, nil, b.paths.secrets, query)
	if err != nil {
		return err
	}
	if w.conn.status != http.StatusOK {
		// Another 2xx: counted by its status, as the typed client's errors are.
		return &client.Error{Status: w.conn.status, Title: http.StatusText(w.conn.status)}
	}
	if !bytes.HasPrefix(body, []byte(`{"items":[`)) || !bytes.Contains(body, []byte(`"permissions":`)) || !b.wellFormedJSON(body) {
		return errors.New("grid page: not a page of rows")
	}
	return nil
}

// wellFormedJSON is json.Valid(body), remembered for bodies already found valid.
func (b *benchRun) wellFormedJSON(body []byte) bool {
	h := maphash.Bytes(b.pageSeed, body)
	if _, ok := b.wellFormed.Load(h); ok {
		return true
	}
	if !json.Valid(body) {
		return false
	}
	b.wellFormed.Store(h, struct{}{})
	return true
}

// gridQuery is a grid page's query as url.Values.Encode writes it, with its "?".
func gridQuery(q url.Values) string { return "?" + q.Encode() }

// appendBenchValues appends `"values":{…}` with a fresh value (see benchValue) in each
// of envs.
func appendBenchValues(b []byte, envs []string) []byte {
	return appendBenchValueMap(append(b, `"values":`...), envs)
}

// appendBenchValueMap appends a JSON object with a fresh value in each of envs.
func appendBenchValueMap(b []byte, envs []string) []byte {
	b = append(b, '{')
	for i, env := range envs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, env)
		b = append(b, ':')
		b = appendBenchValue(b)
	}
	return append(b, '}')
}

// appendBenchValue appends a fresh random value ("bench_" and 32 hex digits) as a JSON
// string.
func appendBenchValue(b []byte) []byte {
	var r [16]byte
	_, _ = rand.Read(r[:])
	b = append(b, `"bench_`...)
	b = hex.AppendEncode(b, r[:])
	return append(b, '"')
}

// appendPadded appends n in decimal, zero-padded to width digits (fmt's %0*d for n ≥ 0).
func appendPadded(b []byte, n, width int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(n), 10)
	for range width - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}
