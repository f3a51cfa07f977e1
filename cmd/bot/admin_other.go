//go:build !unix

package main

import "syscall"

// restrictSocket does nothing where sockets have no Unix file modes; the chmod after Listen applies.
func restrictSocket(_, _ string, _ syscall.RawConn) error { return nil }
