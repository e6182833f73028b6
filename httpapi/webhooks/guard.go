package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenAddress means a webhook's host is, or resolves to, an address that
// webhooks may not reach (loopback, private, link-local, …).
var ErrForbiddenAddress = errors.New("webhooks: address not allowed")

// ErrUnresolvable means a webhook's host name does not resolve to any address.
var ErrUnresolvable = errors.New("webhooks: host does not resolve")

// forbiddenPrefixes are the networks that are not the public internet, beyond what
// netip.Addr's own predicates cover: "this network", shared address space (CGNAT),
// IETF protocol assignments, benchmarking, reserved and broadcast, and IPv6's
// discard-only, NAT64 well-known and 6to4 prefixes (the last two embed an IPv4 address
// that may well be an internal one).
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// Forbidden reports whether a webhook may not reach addr: loopback, private
// (RFC 1918, fc00::/7), link-local, unspecified, multicast and the other non-public
// networks above, IPv4-mapped IPv6 addresses judged as the IPv4 address they carry.
func Forbidden(addr netip.Addr) bool {
	a := addr.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lookupTimeout bounds the name lookup of a URL being registered.
const lookupTimeout = 5 * time.Second

// resolver is the part of net.Resolver the guard uses.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which webhook URLs may be used. AllowPrivate turns it off (serve
// --dev, --webhook-allow-private): a receiver on this machine or the local network.
type Guard struct {
	AllowPrivate bool
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver resolver
}

func (g Guard) resolver() resolver {
	if g.Resolver == nil {
		return net.DefaultResolver
	}
	return g.Resolver
}

// CheckURL refuses a URL whose host is, or resolves to, a forbidden address (every
// address it resolves to must be allowed). A name that does not resolve is refused
// too: a webhook that cannot be reached is a mistake better said at once.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse webhook url: %w", err)
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !g.AllowPrivate && Forbidden(a) {
			return fmt.Errorf("%w: %s is not a public address", ErrForbiddenAddress, a)
		}
		return nil
	}
	if g.AllowPrivate {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := g.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("%w: %s", ErrUnresolvable, host)
	}
	for _, a := range addrs {
		if Forbidden(a) {
			return fmt.Errorf("%w: the host %s resolves to %s, which is not a public address", ErrForbiddenAddress, host, a.Unmap())
		}
	}
	return nil
}

// Control is a net.Dialer Control hook: it refuses a connection to a forbidden
// address after the name was resolved, just before the socket connects, so a DNS
// answer that changed since CheckURL (DNS rebinding) cannot reach inside.
func (g Guard) Control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if Forbidden(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenAddress, ap.Addr().Unmap())
	}
	return nil
}
