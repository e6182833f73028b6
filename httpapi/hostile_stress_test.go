//go:build stress

package httpapi_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var hostileFor = flag.Duration("hostile-for", 60*time.Second, "how long TestStressHostileText throws random input")

// hostileAlphabet is what hostile strings are made of: the bytes and characters that
// break text handling (NUL, C0 and C1 controls, DEL, line separators, bytes that are
// not UTF-8, quotes, SQL and formula starters) beside ordinary ones.
var hostileAlphabet = []string{
	"\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\x1b", "\x7f", "\u0085", "\u2028", "\u2029", "\ufeff", "\u200b",
	"\xff", "\xfe", "\xc3", "\xe2\x82", "\xed\xa0\x80", "'", "\"", "\\", "%", "_", "=", "+", "-", "@", ";", "--",
	"A", "z", "0", "_KEY", "é", "日本", "🙂", " ",
}

// TestStressHostileText throws random hostile strings at every command that takes text
// for -hostile-for (make fuzz sets it from FUZZTIME), with the checks of
// FuzzHostileText: Go's coverage-guided fuzzer cannot drive a whole server (NATS,
// Postgres and the projector in every worker), so this one draws at random, printing
// its seed so that a failure can be replayed.
func TestStressHostileText(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	h := newHostileRig(t)
	deadline := time.Now().Add(*hostileFor)
	n := 0
	for time.Now().Before(deadline) && !t.Failed() {
		var b strings.Builder
		size := rng.IntN(40)
		if rng.IntN(20) == 0 {
			size = 2000 + rng.IntN(80_000)
		}
		for b.Len() < size {
			b.WriteString(hostileAlphabet[rng.IntN(len(hostileAlphabet))])
		}
		h.check(t, b.String())
		n++
	}
	fmt.Printf("hostile text: %d random inputs (seed %d) through every text-taking command: no 5xx, projector at the log's head after each\n", n, seed)
}
