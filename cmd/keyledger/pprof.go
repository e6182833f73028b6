//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // the profiling build serves /debug/pprof
	"os"
)

// A build with -tags pprof serves net/http/pprof on KL_PPROF_ADDR (for example
// 127.0.0.1:6060), for profiling the server under `keyledger bench`; the normal build
// has no such endpoint. The variable is not a KEYLEDGER_ one because the bench starts
// its server without the caller's KEYLEDGER_ variables.
func init() {
	addr := os.Getenv("KL_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux}
		if err := srv.ListenAndServe(); err != nil {
			slog.Error("pprof", "err", err)
		}
	}()
}
