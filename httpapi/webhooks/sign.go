package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook delivery.
const (
	HeaderDelivery  = "Keyledger-Delivery"
	HeaderSignature = "Keyledger-Signature"
	HeaderEvent     = "Keyledger-Event"
)

// Sign is the Keyledger-Signature header of body sent at t: "t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>" keyed with the signing secret>" (the whole secret, its
// whsec_ prefix included). The time is signed so that a receiver can refuse replays of
// an old delivery.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + signature(secret, ts, body)
}

func signature(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a Keyledger-Signature header against body as a receiver does: the v1
// signature must match, and t must be within tolerance of now (0: any age).
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) bool {
	var ts, v1 string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return false
	}
	if tolerance > 0 && now.Sub(time.Unix(sec, 0)).Abs() > tolerance {
		return false
	}
	return hmac.Equal([]byte(v1), []byte(signature(secret, ts, body)))
}
