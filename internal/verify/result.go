package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check.
type Status string

// Check outcomes. A skipped check is neither a pass nor a failure: it was
// not asked for, or a check it depends on failed.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Names of the checks, in report order.
const (
	CheckWellKnownServer   = "well-known-server"
	CheckWellKnownClient   = "well-known-client"
	CheckDiscovery         = "discovery"
	CheckFederationTLS     = "federation-tls"
	CheckFederationVersion = "federation-version"
	CheckFederationKeys    = "federation-keys"
	CheckClientTLS         = "client-tls"
	CheckClientVersions    = "client-versions"
	CheckRegistration      = "registration"
	CheckRoundTrip         = "round-trip"
	CheckAuthService       = "auth-service"
	CheckDNS               = "dns"
	CheckRTCFocus          = "rtc-focus"
)

var checkOrder = []string{
	CheckWellKnownServer, CheckWellKnownClient, CheckDiscovery,
	CheckFederationTLS, CheckFederationVersion, CheckFederationKeys,
	CheckClientTLS, CheckClientVersions, CheckRegistration,
	CheckRoundTrip, CheckAuthService, CheckDNS, CheckRTCFocus,
}

// Duration is a time.Duration that encodes to JSON as milliseconds.
type Duration time.Duration

// MarshalJSON encodes d as a number of milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Milliseconds())
}

// UnmarshalJSON decodes a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*d = Duration(time.Duration(ms) * time.Millisecond)
	return nil
}

// Result is the outcome of one check: what was found and, on failure, what
// to do about it.
type Result struct {
	Check   string   `json:"check"`
	Status  Status   `json:"status"`
	Reason  string   `json:"reason"`
	Fix     string   `json:"fix,omitempty"`
	Elapsed Duration `json:"elapsed_ms"`
}

// Report is the outcome of a whole run.
type Report struct {
	ServerName string    `json:"server_name"`
	OK         bool      `json:"ok"`
	Attempts   int       `json:"attempts"`
	Started    time.Time `json:"started"`
	Elapsed    Duration  `json:"elapsed_ms"`
	Results    []Result  `json:"results"`
}

// Result returns the result of the named check and whether it ran.
func (r *Report) Result(check string) (Result, bool) {
	for _, res := range r.Results {
		if res.Check == check {
			return res, true
		}
	}
	return Result{}, false
}

// Failed returns the results whose status is Fail.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

// WriteTable writes the report as an aligned, human-readable table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tWHY\tWHAT TO DO")
	for _, res := range r.Results {
		fix := res.Fix
		if res.Status != Fail || fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Check, strings.ToUpper(string(res.Status)), oneLine(res.Reason), oneLine(fix))
	}
	verdict := "all checks passed"
	if n := len(r.Failed()); n > 0 {
		verdict = fmt.Sprintf("%d check(s) failed", n)
	}
	fmt.Fprintf(tw, "\n%s: %s in %s (attempt %d)\n", r.ServerName, verdict,
		time.Duration(r.Elapsed).Round(time.Millisecond), r.Attempts)
	return tw.Flush()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func passed(reason string, args ...any) Result {
	return Result{Status: Pass, Reason: fmt.Sprintf(reason, args...)}
}

func skipped(reason string, args ...any) Result {
	return Result{Status: Skip, Reason: fmt.Sprintf(reason, args...)}
}

func failed(fix, reason string, args ...any) Result {
	return Result{Status: Fail, Reason: fmt.Sprintf(reason, args...), Fix: fix}
}
