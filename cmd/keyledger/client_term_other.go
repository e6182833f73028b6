//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

import (
	"errors"
	"os"
)

// isTerminal is false where the CLI cannot turn echo off: the password is then read
// as a line of standard input.
func isTerminal(*os.File) bool { return false }

func readPasswordNoEcho(*os.File) (string, error) {
	return "", errors.New("reading a password without echo is not supported here; use --password-stdin")
}

// inForegroundOfTerminal is false where it cannot be told: signals are forwarded.
func inForegroundOfTerminal() bool { return false }
