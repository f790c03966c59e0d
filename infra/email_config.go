package infra

import (
	"fmt"
	"regexp"
	"strings"
)

// Email is how the homeserver's mail leaves the host (matrix:email).
type Email string

const (
	// EmailNone leaves the playbook's exim relay as upstream configures
	// it: direct delivery to the recipients' MX on port 25, which EC2
	// blocks by default, so nothing arrives unless the operator points
	// the relay elsewhere through matrix:playbookVars.
	EmailNone Email = "none"
	// EmailSES relays through Amazon SES in the stack's region.
	EmailSES Email = "ses"
)

// DefaultSenderLocalpart is the local part of the sender address when
// matrix:emailFrom is unset. Upstream's default is matrix@matrix.<domain>
// (exim_relay_sender_address: "matrix@{{ exim_relay_hostname }}" in
// group_vars/matrix_servers); the stack uses the base domain instead: it is
// the identity SES verifies and signs for (DKIM d=<domain>, so DMARC
// aligns), the IAM policy allows no other, and it is the domain in the
// users' IDs.
const DefaultSenderLocalpart = "matrix"

// localPartPattern is the dot-atom of RFC 5322 without quoting, in the
// characters every mail system accepts.
var localPartPattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*$`)

// email reads matrix:email, matrix:emailFrom and matrix:emailDmarc. The
// sender must be at the domain: that is the identity the stack verifies in
// SES and whose DNS records it publishes in the stack's zone, and the IAM
// policy lets the credentials send from nothing else.
func (r *reader) email(domain, region string) (Email, string, bool) {
	mode := oneOf(r, "email", "a mail setting", "none (default) or ses", EmailNone, EmailSES)
	if mode == "" {
		return "", "", false
	}
	dmarc := r.boolean("emailDmarc")
	from, _ := r.value("emailFrom")
	from = strings.TrimSpace(from)
	if mode == EmailNone {
		// matrix:emailDmarc has nothing to publish without SES either, but
		// false is what it means then, so it is not refused.
		if from != "" {
			r.add("emailFrom", "only applies with matrix:email ses; set matrix:email ses, or remove it (pulumi config rm matrix:emailFrom); for a relay of your own set exim_relay_sender_address in matrix:playbookVars")
		}
		return mode, "", false
	}
	if strings.HasPrefix(region, "cn-") {
		r.add("email", "Amazon SES is not offered in the China regions (%s); use matrix:email none and a relay of your own through matrix:playbookVars (exim_relay_relay_*)", region)
	}
	if domain == "" {
		return mode, "", dmarc
	}
	if from == "" {
		return mode, DefaultSenderLocalpart + "@" + domain, dmarc
	}
	if msg := senderProblem(from, domain); msg != "" {
		r.add("emailFrom", "%q %s", from, msg)
		return mode, "", dmarc
	}
	local, at, _ := strings.Cut(from, "@")
	return mode, local + "@" + strings.ToLower(at), dmarc
}

// senderProblem explains why from cannot be the sender address at domain,
// or returns "".
func senderProblem(from, domain string) string {
	local, at, ok := strings.Cut(from, "@")
	switch {
	case !ok || strings.Contains(at, "@"):
		return fmt.Sprintf("is not an e-mail address; give one such as matrix@%s", domain)
	case len(local) > 64 || !localPartPattern.MatchString(local):
		return fmt.Sprintf("has an invalid local part %q; use letters, digits and . _ + - (at most 64), e.g. matrix@%s", local, domain)
	case !strings.EqualFold(at, domain):
		return fmt.Sprintf("is not at %s, the domain whose SES identity and DNS records this stack manages (and the only one its SMTP credentials may send from); use an address at %s", domain, domain)
	}
	return ""
}

// mailFromFree refuses a service served at the MAIL FROM domain: its CNAME
// would exclude the MX and SPF records SES needs there.
func (r *reader) mailFromFree(c Config) {
	if c.Email != EmailSES {
		return
	}
	for _, s := range c.ServedHosts {
		if s.Host == MailFromLabel+"."+c.Domain {
			r.add("email", "%s is where SES's MAIL FROM records go (MX and SPF), but %s is served there; give %s another hostname through matrix:playbookVars", s.Host, s.Service, s.Service)
		}
	}
}
