package httpapi

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// trustedProxies are the networks whose X-Forwarded-For is believed.
type trustedProxies []netip.Prefix

// parseTrustedProxies accepts addresses ("10.0.0.7") and networks ("10.0.0.0/8").
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("httpapi: trusted proxy %q is neither an address nor a network", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (t trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request came from. Behind trusted proxies it walks
// X-Forwarded-For from the right (the entries the proxies appended) and takes the
// first address that is not a trusted proxy: entries further left are whatever the
// client chose to send, and believing them would let anyone pick the address that
// audit records show and that the login limiter counts.
func (s *Server) clientIP(c *fiber.Ctx) string {
	remote := c.Context().RemoteIP()
	peer, ok := netip.AddrFromSlice(remote)
	if !ok {
		return remote.String()
	}
	peer = peer.Unmap()
	if !s.proxies.trusts(peer) {
		return peer.String()
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.proxies.trusts(a) {
			return a.Unmap().String()
		}
		peer = a.Unmap()
	}
	return peer.String()
}
