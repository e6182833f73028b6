package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// userAgent names the sender to receivers.
const userAgent = "Keyledger-Webhooks/1"

// noticeBody is a notice as the SSE feed's data sends it (wire.ChangeNotice), the
// bytes a delivery signs and POSTs.
func noticeBody(n wire.ChangeNotice) json.RawMessage {
	b, _ := json.Marshal(n)
	return b
}

// send POSTs a delivery once. It returns the response's status code (0 without one)
// and what went wrong ("" for a 2xx). The error text never holds the URL: it may
// carry a credential.
func (e *Engine) send(ctx context.Context, t *target, d *Delivery) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "invalid endpoint URL"
	}
	var typ struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(d.Body, &typ)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderEvent, typ.Type)
	req.Header.Set(HeaderSignature, Sign(t.secret, time.Now(), d.Body))
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, describe(err, e.cfg.Timeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, ""
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	default:
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
}

// describe says why a request got no response, without the URL.
func describe(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("no response within %s", timeout)
		}
		err = ue.Err
	}
	if errors.Is(err, ErrForbiddenAddress) {
		var msg string
		for e := err; e != nil; e = errors.Unwrap(e) {
			if errors.Is(e, ErrForbiddenAddress) {
				msg = e.Error()
			}
		}
		return msg
	}
	return err.Error()
}
