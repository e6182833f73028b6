package httpapi_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

// TestUnusedConnectionIsClosedUnanswered: a connection that carries no request before
// the read timeout (HTTP clients open spare ones) is closed without a byte. It used to
// get a 400 problem, which a client reads as the answer to whatever request it has
// just sent on that connection ("Unsolicited response received on idle HTTP channel"
// in the bench's log, one read timeout after its start). A request that does arrive on
// a connection is answered as ever.
func TestUnusedConnectionIsClosedUnanswered(t *testing.T) {
	t.Parallel()
	const readTimeout = 300 * time.Millisecond
	env := apitest.New(t, func(c *httpapi.Config) { c.ReadTimeout = readTimeout })
	addr := strings.TrimPrefix(env.BaseURL, "http://")

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := idle.SetReadDeadline(time.Now().Add(10 * readTimeout)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(idle)
	if len(got) > 0 {
		t.Fatalf("an unused connection got %q", got)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("an unused connection was not closed after the read timeout")
	}

	used, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer used.Close()
	if _, err := io.WriteString(used, "GET /healthz HTTP/1.1\r\nHost: keyledger\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(used), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d", resp.StatusCode)
	}
}
