package main

import "golang.org/x/sys/unix"

// Termios requests on Linux.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
