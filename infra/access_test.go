package infra_test

import (
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
)

// TestProxyCommand: the ProxyCommand sshCommand shows is the session the
// wrapper opens (ansible/run-playbook's ssm_proxy_command, whose fake aws
// in ansible/ssm_test.go accepts exactly these arguments).
func TestProxyCommand(t *testing.T) {
	if got, want := infra.ProxyCommand("i-0123456789abcdef0", "eu-central-1"), "aws ssm start-session --target i-0123456789abcdef0 --document-name AWS-StartSSHSession --parameters portNumber=%p --region eu-central-1"; got != want {
		t.Errorf("ProxyCommand = %q, want %q", got, want)
	}
	if got, want := infra.SessionCommand("i-0123456789abcdef0", "eu-central-1"), "aws ssm start-session --target i-0123456789abcdef0 --region eu-central-1"; got != want {
		t.Errorf("SessionCommand = %q, want %q", got, want)
	}
}
