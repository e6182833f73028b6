package client

import (
	"context"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// AuditEntry is one entry of an organization's audit trail. SecretID, SecretName and
// Env are nil on entries that concern no secret or environment.
type AuditEntry = wire.AuditItem

// AuditFilter narrows ListAudit and ExportAudit; zero fields are left out.
type AuditFilter struct {
	Actor    string
	Action   string
	SecretID string
	Env      string
	From     time.Time
	To       time.Time
	Limit    int
	Cursor   string
}

func (f AuditFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "secret_id": f.SecretID, "env": f.Env, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		q.Set("from", formatTime(f.From))
	}
	if !f.To.IsZero() {
		q.Set("to", formatTime(f.To))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// AuditPage is one page of the audit trail, newest first; NextCursor is nil on the
// last.
type AuditPage = wire.Page[AuditEntry]

// ListAudit returns one page of an organization's audit trail.
func (c *Client) ListAudit(ctx context.Context, org string, f AuditFilter, opts ...CallOption) (AuditPage, error) {
	var out AuditPage
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "audit"), query: f.query(), opts: opts}, &out)
	return out, err
}

// AllAudit iterates over every audit entry that matches f, page after page. It stops
// at the first error, which it yields.
func (c *Client) AllAudit(ctx context.Context, org string, f AuditFilter, opts ...CallOption) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		for {
			page, err := c.ListAudit(ctx, org, f, opts...)
			if err != nil {
				yield(AuditEntry{}, err)
				return
			}
			for _, e := range page.Items {
				if !yield(e, nil) {
					return
				}
			}
			if page.NextCursor == "" || len(page.Items) == 0 {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}

// Audit export formats.
const (
	ExportCSV   = "csv"
	ExportJSONL = "jsonl"
)

// ExportAudit streams the whole filtered trail as CSV or JSON lines (format is
// ExportCSV or ExportJSONL); f.Limit and f.Cursor are ignored by the server. The
// caller closes the reader.
func (c *Client) ExportAudit(ctx context.Context, org, format string, f AuditFilter, opts ...CallOption) (io.ReadCloser, error) {
	q := f.query()
	q.Set("format", format)
	resp, err := c.send(ctx, request{method: http.MethodGet, path: orgPath(org, "audit", "export"), query: q, opts: opts, accept: "*/*"})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// AuditVerification is the result of checking an organization's audit hash chain.
type AuditVerification = wire.AuditVerification

// VerifyAudit checks the hash chain over an organization's audit trail.
func (c *Client) VerifyAudit(ctx context.Context, org string, opts ...CallOption) (AuditVerification, error) {
	var out AuditVerification
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "audit", "verify"), opts: opts}, &out)
	return out, err
}
