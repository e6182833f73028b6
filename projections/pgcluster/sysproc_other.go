//go:build !linux

package pgcluster

import "syscall"

// serverSysProcAttr runs postgres in its own process group, so that a Ctrl-C
// aimed at the caller does not shut the server down behind the caller's back.
// Outside Linux there is no parent-death signal: a killed caller leaves the
// server running, and the next Start in the same directory stops it.
func serverSysProcAttr(o owner) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: o.credential(),
	}
}
