package pgcluster

import "syscall"

// serverSysProcAttr runs postgres in its own process group, so that a Ctrl-C
// aimed at the caller does not shut the server down behind the caller's back,
// and asks the kernel to send it SIGINT (a fast shutdown) when the caller dies,
// so a crashed or killed caller leaves no orphaned server.
func serverSysProcAttr(o owner) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGINT,
		Credential: o.credential(),
	}
}
