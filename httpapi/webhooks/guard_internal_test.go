package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func TestForbiddenAddresses(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"10.0.0.1": true, "10.255.255.255": true,
		"172.16.0.1": true, "172.31.255.254": true, "172.32.0.1": false, "172.15.255.255": false,
		"192.168.0.1": true, "192.168.255.255": true,
		"169.254.169.254": true, "fe80::1": true, "febf::1": true,
		"fc00::1": true, "fd12:3456::1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.1.2.3": true, "::ffff:169.254.169.254": true, "::ffff:93.184.215.14": false,
		"0.0.0.0": true, "::": true, "0.1.2.3": true,
		"224.0.0.1": true, "239.255.255.250": true, "ff02::1": true, "ff0e::1": true,
		"100.64.0.1": true, "198.18.0.1": true, "255.255.255.255": true, "64:ff9b::a00:1": true, "2002:a00:1::1": true,
		"93.184.215.14": false, "8.8.8.8": false, "2606:4700:4700::1111": false, "1.1.1.1": false,
	}
	for s, want := range cases {
		if got := Forbidden(netip.MustParseAddr(s)); got != want {
			t.Errorf("Forbidden(%s) = %v, want %v", s, got, want)
		}
	}
}

// fakeResolver answers from a table, as DNS would.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestGuardChecksEveryResolvedAddress(t *testing.T) {
	t.Parallel()
	g := Guard{Resolver: fakeResolver{
		"public.example":   {netip.MustParseAddr("93.184.215.14")},
		"mixed.example":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.5")},
		"rebind.example":   {netip.MustParseAddr("127.0.0.1")},
		"mapped.example":   {netip.MustParseAddr("::ffff:192.168.1.1")},
		"v6public.example": {netip.MustParseAddr("2606:4700:4700::1111")},
	}}
	ctx := context.Background()
	for url, ok := range map[string]bool{
		"https://public.example/hook":    true,
		"https://v6public.example/hook":  true,
		"https://93.184.215.14/":         true,
		"https://mixed.example/hook":     false,
		"https://rebind.example/hook":    false,
		"https://mapped.example/":        false,
		"https://unknown.example/":       false,
		"http://[::ffff:127.0.0.1]:80/":  false,
		"http://169.254.169.254/latest/": false,
	} {
		err := g.CheckURL(ctx, url)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%s) = %v, want ok=%v", url, err, ok)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) && !(url == "https://unknown.example/" && errors.Is(err, ErrUnresolvable)) {
			t.Errorf("CheckURL(%s): %v is not ErrForbiddenAddress", url, err)
		}
	}
	open := Guard{AllowPrivate: true, Resolver: fakeResolver{}}
	if err := open.CheckURL(ctx, "http://127.0.0.1:8080/"); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := open.CheckURL(ctx, "http://anything.internal/"); err != nil {
		t.Errorf("allowed private, unresolved name: %v", err)
	}
}

// The delivery client checks the address it actually connects to: a name that
// resolved to a public address at registration and to loopback now (DNS rebinding)
// is refused at the socket, and the receiver never hears of it.
func TestDeliveryClientRefusesLoopbackAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	client := newClient(Guard{}, 2*time.Second)
	// "localhost" resolves to loopback: what a rebinding name does at delivery time.
	for _, url := range []string{srv.URL, "http://localhost:" + portOf(srv.URL)} {
		resp, err := client.Post(url, "application/json", nil)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("POST %s: got %d, want a refused connection", url, resp.StatusCode)
		}
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("POST %s: %v, want ErrForbiddenAddress", url, err)
		}
		if msg := describe(err, time.Second); msg == "" || containsURL(msg, url) {
			t.Fatalf("describe: %q", msg)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests", hits.Load())
	}
	allowed := newClient(Guard{AllowPrivate: true}, 2*time.Second)
	resp, err := allowed.Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("with private addresses allowed, the receiver got nothing")
	}
}

func containsURL(msg, url string) bool {
	for i := 0; i+len(url) <= len(msg); i++ {
		if msg[i:i+len(url)] == url {
			return true
		}
	}
	return false
}

func TestSignatureVerifies(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"secret.updated"}`)
	h := Sign("whsec_abc", at, body)
	if h[:13] != "t=1800000000," {
		t.Fatalf("header %q", h)
	}
	if !Verify("whsec_abc", h, body, time.Minute, at.Add(30*time.Second)) {
		t.Fatal("a good signature does not verify")
	}
	if Verify("whsec_abc", h, []byte(`{"type":"secret.deleted"}`), 0, at) || Verify("whsec_abd", h, body, 0, at) ||
		Verify("whsec_abc", h, body, time.Minute, at.Add(2*time.Minute)) || Verify("whsec_abc", "v1=00", body, 0, at) {
		t.Fatal("a bad body, secret, age or header verifies")
	}
}

func portOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}
