package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"dnsTtl", "dnsTtl", 0}, {"ntfy_enable", "ntfy_enabled", 1}} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"dnsTtl", "domain", "sshAllowedCidrs", "ntfy_enabled"}
	for _, tc := range []struct {
		s      string
		limit  int
		accept func(string) bool
		want   string
	}{
		{"dnsTTL", 3, nil, "dnsTtl"}, // case is ignored
		{"sshAllowedCidr", 3, nil, "sshAllowedCidrs"},
		{"kubernetes", 3, nil, ""}, // nothing near enough
		{"ntfy_enable", 2, nil, "ntfy_enabled"},
		{"ntfy_enable", 1, nil, ""}, // the limit is exclusive
		{"ntfy_enable", 3, func(string) bool { return false }, ""},
	} {
		if got := Closest(tc.s, names, tc.limit, tc.accept); got != tc.want {
			t.Errorf("Closest(%q, limit %d) = %q, want %q", tc.s, tc.limit, got, tc.want)
		}
	}
}
