package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// rtcFociKey is where MSC4143 (MatrixRTC) has a homeserver announce its
// call backends in /.well-known/matrix/client; the pinned playbook writes
// it when its LiveKit JWT service runs (matrix_static_files_file_matrix_
// client_property_org_matrix_msc4143_rtc_foci in group_vars/matrix_servers).
// mautrix-go v0.26.0 has no type for it.
const rtcFociKey = "org.matrix.msc4143.rtc_foci"

const fixRTCFocus = "the playbook announces the LiveKit JWT service in /.well-known/matrix/client of %s when the Matrix RTC stack runs (matrix:calls element-call); re-run the playbook, and check that matrix-livekit-jwt-service is running on the host"

// rtcFocus is one entry of the list: MSC4195 defines the livekit type.
type rtcFocus struct {
	Type              string `json:"type"`
	LiveKitServiceURL string `json:"livekit_service_url"`
}

// checkRTCFocus checks that the client .well-known announces a LiveKit
// focus with an https service URL, which Element Web and Element X need
// before they offer group calls.
func (v *verifier) checkRTCFocus(ctx context.Context) Result {
	fix := fmt.Sprintf(fixRTCFocus, v.host)
	doc, err := v.clientWellKnown(ctx)
	if err != nil {
		return failed(fix, "%v", err)
	}
	raw, ok := doc[rtcFociKey]
	if !ok {
		return failed(fix, "/.well-known/matrix/client has no %q: clients will not offer group calls", rtcFociKey)
	}
	var foci []rtcFocus
	if err := json.Unmarshal(raw, &foci); err != nil {
		return failed(fix, "%q is not a list of foci: %v", rtcFociKey, err)
	}
	var problems []string
	for _, f := range foci {
		if f.Type != "livekit" {
			continue
		}
		u, err := url.Parse(f.LiveKitServiceURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("livekit_service_url %q is not an https URL", f.LiveKitServiceURL))
			continue
		}
		return passed("livekit focus at %s", u)
	}
	if len(problems) > 0 {
		return failed(fix, "%q: %s", rtcFociKey, strings.Join(problems, "; "))
	}
	return failed(fix, "%q lists no livekit focus", rtcFociKey)
}
