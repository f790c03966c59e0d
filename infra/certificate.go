package infra

import "strings"

// CertificateNames are the names the load balancer's certificate covers:
// every name Records publishes.
func CertificateNames(cfg Config) []string {
	var out []string
	for _, r := range Records(cfg) {
		name := r.Name(cfg.Domain)
		if !containsString(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// RecordLabel names a DNS name's resources: its label under the domain, or
// "base" for the domain itself.
func RecordLabel(name, domain string) string {
	if name == domain {
		return "base"
	}
	return strings.TrimSuffix(name, "."+domain)
}
