// Package sock creates descriptors and sets their options for eddy's
// streams and commands: sockets born nonblocking and close-on-exec, accept
// that returns the same, and conversions between netip.AddrPort and the
// socket address forms. Files are split by capability (accept4 and
// SOCK_NONBLOCK where the system has them, a ForkLock fallback elsewhere).
// It imports only golang.org/x/sys/unix and the standard library.
package sock
