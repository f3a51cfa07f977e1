//go:build unix

package main

import "syscall"

// restrictSocket makes the socket 0600 before it is bound, so that its file never has the wider
// mode the umask would give it, not even until the chmod after Listen. Linux honours the mode of
// an unbound socket; where fchmod on a socket fails, the chmod after Listen still applies.
func restrictSocket(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.Fchmod(int(fd), 0o600) // best effort, see above
	})
}
