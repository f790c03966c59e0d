// Package dnstest serves DNS from a fixed table on a loopback UDP port, so
// tests can exercise SRV and address lookups without the network.
package dnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// SRV is one SRV record.
type SRV struct {
	Target           string
	Port             uint16
	Priority, Weight uint16
}

// Zone is the table the server answers from. Names are written without the
// trailing dot; unknown names get NXDOMAIN.
type Zone struct {
	Addrs map[string][]netip.Addr
	SRV   map[string][]SRV // key like "_matrix-fed._tcp.example.test"
}

// Server is a running DNS server.
type Server struct {
	Addr string
	zone Zone
	conn net.PacketConn
}

// Start serves zone until the test ends.
func Start(t testing.TB, zone Zone) *Server {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: conn.LocalAddr().String(), zone: zone, conn: conn}
	go s.serve()
	t.Cleanup(func() { conn.Close() })
	return s
}

// Resolver returns a resolver that asks only this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.Addr)
		},
	}
}

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		resp, err := s.answer(buf[:n])
		if err != nil {
			continue
		}
		_, _ = s.conn.WriteTo(resp, from)
	}
}

func (s *Server) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !s.known(name) {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if err := s.addAnswers(&b, q, name); err != nil {
		return nil, err
	}
	return b.Finish()
}

func (s *Server) known(name string) bool {
	_, a := s.zone.Addrs[name]
	_, srv := s.zone.SRV[name]
	return a || srv
}

func (s *Server) addAnswers(b *dnsmessage.Builder, q dnsmessage.Question, name string) error {
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch q.Type {
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		for _, a := range s.zone.Addrs[name] {
			var err error
			switch {
			case a.Is4() && q.Type == dnsmessage.TypeA:
				err = b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
			case a.Is6() && q.Type == dnsmessage.TypeAAAA:
				err = b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
			if err != nil {
				return err
			}
		}
	case dnsmessage.TypeSRV:
		for _, r := range s.zone.SRV[name] {
			target, err := dnsmessage.NewName(r.Target + ".")
			if err != nil {
				return fmt.Errorf("srv target %q: %w", r.Target, err)
			}
			err = b.SRVResource(hdr, dnsmessage.SRVResource{Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: target})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
