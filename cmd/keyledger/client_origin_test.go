package main

import "testing"

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", true},
		{"http://Example.COM", "http://example.com:80", true},
		{"https://example.com/", "HTTPS://example.com:443/keyledger", true},
		{"http://example.com", "https://example.com", false},
		{"http://example.com:8080", "http://example.com", false},
		{"http://example.com", "http://example.org", false},
		{"http://[::1]:8080", "http://[::1]:8080/", true},
		{"http://example.com", "", false},
		{"not a url", "not a url", false},
	} {
		if got := sameOrigin(c.a, c.b); got != c.same {
			t.Errorf("sameOrigin(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
