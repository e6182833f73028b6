package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// AccessReview is who could do what to one secret at an instant.
type AccessReview = wire.AccessReview

// AccessSubject is one user or service token in an AccessReview.
type AccessSubject = wire.AccessSubject

// Kinds of AccessSubject.
const (
	SubjectUser         = wire.SubjectUser
	SubjectServiceToken = wire.SubjectServiceToken
)

// AccessReview asks who could reveal, modify, delete or fetch the secret secretID at
// instant at (zero: now), computed by the server from the log. Owners and admins only.
func (c *Client) AccessReview(ctx context.Context, org, secretID string, at time.Time, opts ...CallOption) (AccessReview, error) {
	q := url.Values{"secret_id": {secretID}}
	if !at.IsZero() {
		q.Set("at", formatTime(at))
	}
	var out AccessReview
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "access"), query: q, opts: opts}, &out)
	return out, err
}
