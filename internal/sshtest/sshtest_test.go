package sshtest

import (
	"strings"
	"testing"
)

func TestServerAcceptsItsClientAndPinsItsHostKey(t *testing.T) {
	s := Start(t)
	out, err := s.SSH("id", "-un")
	if err != nil {
		t.Fatalf("ssh: %v\n%s\nsshd log:\n%s", err, out, s.Log())
	}
	if got := strings.TrimSpace(string(out)); got != s.User {
		t.Errorf("logged in as %q, want %q", got, s.User)
	}
	if !strings.HasPrefix(s.KnownHosts, "[127.0.0.1]:") || !strings.Contains(s.KnownHosts, " ssh-ed25519 ") {
		t.Errorf("KnownHosts = %q, want a [127.0.0.1]:port ssh-ed25519 line", s.KnownHosts)
	}

	// Another server's host key must not be accepted for this one.
	other := Start(t)
	s.KnownHosts = strings.Replace(s.KnownHosts, s.HostKey, other.HostKey, 1)
	out, err = s.SSH("true")
	if err == nil {
		t.Fatalf("ssh accepted a host key that is not pinned:\n%s", out)
	}
	if !strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") && !strings.Contains(string(out), "Host key verification failed") {
		t.Errorf("ssh failed, but not on the host key:\n%s", out)
	}
}

func TestStopEndsTheServer(t *testing.T) {
	s := Start(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := s.SSH("true"); err == nil {
		t.Fatalf("ssh still works after Stop:\n%s", out)
	}
}
