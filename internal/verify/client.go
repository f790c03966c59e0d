package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// authTypeRegistrationToken is the UIA stage of token-gated registration
// (spec v1.2+); mautrix has no constant for it.
const authTypeRegistrationToken mautrix.AuthType = "m.login.registration_token"

const (
	fixClientAPI    = "make %s reach the homeserver's client API (playbook: 443/tcp open, Traefik routing matrix.<domain>)"
	fixRegistration = "set the homeserver's registration to %q (playbook: matrix_synapse_enable_registration, matrix_synapse_registration_requires_token) and re-run the playbook"
	fixRoundTrip    = "check the user's credentials (playbook --tags=register-user) and the homeserver logs for the failing step"
)

func (v *verifier) matrixClient(base *url.URL) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(base.String(), "", "")
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", base, err)
	}
	cli.Client = v.http
	return cli, nil
}

// clientTLSAddr is the host:port of the client API behind base.
func clientTLSAddr(base *url.URL) string {
	if base.Port() != "" {
		return base.Host
	}
	return net.JoinHostPort(base.Hostname(), "443")
}

func (v *verifier) checkClientVersions(ctx context.Context, base *url.URL) Result {
	fix := fmt.Sprintf(fixClientAPI, base)
	cli, err := v.matrixClient(base)
	if err != nil {
		return failed(fix, "%v", err)
	}
	resp, err := cli.Versions(ctx)
	if err != nil {
		return failed(fix, "GET %s/_matrix/client/versions: %v", base, err)
	}
	if len(resp.Versions) == 0 {
		return failed(fix, "GET %s/_matrix/client/versions: no versions listed", base)
	}
	latest := resp.Versions[len(resp.Versions)-1]
	return passed("%s speaks %d spec versions up to %s", base, len(resp.Versions), latest)
}

// registrationMode observes the registration mode: an empty POST /register
// is refused with 403 M_FORBIDDEN when registration is closed, and otherwise
// answered with 401 and the user-interactive auth flows.
func (v *verifier) registrationMode(ctx context.Context, base *url.URL) (string, error) {
	cli, err := v.matrixClient(base)
	if err != nil {
		return "", err
	}
	_, uia, err := cli.Register(ctx, &mautrix.ReqRegister{})
	if uia != nil {
		return modeFromFlows(uia.Flows), nil
	}
	if errors.Is(err, mautrix.MForbidden) {
		return RegistrationClosed, nil
	}
	if err != nil {
		return "", fmt.Errorf("POST %s/_matrix/client/v3/register: %w", base, err)
	}
	return "", fmt.Errorf("POST %s/_matrix/client/v3/register with no auth registered a user", base)
}

// modeFromFlows classifies registration flows: a flow needing a
// registration token means "token", one needing only m.login.dummy means
// "open", anything else (captcha, e-mail) is reported by its stages.
func modeFromFlows(flows []mautrix.UIAFlow) string {
	var other []string
	for _, f := range flows {
		if slices.Contains(f.Stages, authTypeRegistrationToken) {
			return RegistrationToken
		}
	}
	for _, f := range flows {
		if len(f.Stages) == 1 && f.Stages[0] == mautrix.AuthTypeDummy {
			return RegistrationOpen
		}
		stages := make([]string, len(f.Stages))
		for i, s := range f.Stages {
			stages[i] = string(s)
		}
		other = append(other, strings.Join(stages, "+"))
	}
	return "flows " + strings.Join(other, " | ")
}

func (v *verifier) checkRegistration(ctx context.Context, base *url.URL) Result {
	want := v.cfg.Registration
	mode, err := v.registrationMode(ctx, base)
	if err != nil {
		return failed(fmt.Sprintf(fixClientAPI, base), "%v", err)
	}
	if mode != want {
		return failed(fmt.Sprintf(fixRegistration, want), "registration is %s, want %s", mode, want)
	}
	return passed("registration is %s", mode)
}

// checkRoundTrip logs in, creates a room, sends a message, reads it back
// through /sync and leaves the room.
func (v *verifier) checkRoundTrip(ctx context.Context, base *url.URL) Result {
	cli, err := v.matrixClient(base)
	if err != nil {
		return failed(fixRoundTrip, "%v", err)
	}
	steps, err := v.roundTrip(ctx, cli)
	if err != nil {
		return failed(fixRoundTrip, "%v", err)
	}
	return passed("%s", steps)
}

func (v *verifier) roundTrip(ctx context.Context, cli *mautrix.Client) (string, error) {
	_, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: v.cfg.Username},
		Password:                 v.cfg.Password,
		InitialDeviceDisplayName: "matrix-on-aws verify",
		StoreCredentials:         true,
	})
	if err != nil {
		return "", fmt.Errorf("log in as %s: %w", v.cfg.Username, err)
	}
	defer logout(cli)
	room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "matrix-on-aws verify",
	})
	if err != nil {
		return "", fmt.Errorf("create room as %s: %w", cli.UserID, err)
	}
	text := fmt.Sprintf("verify %d", time.Now().UnixNano())
	sent, err := cli.SendText(ctx, room.RoomID, text)
	if err != nil {
		return "", fmt.Errorf("send message to %s: %w", room.RoomID, err)
	}
	if err := syncUntil(ctx, cli, room.RoomID, sent.EventID, text); err != nil {
		return "", err
	}
	if _, err := cli.LeaveRoom(ctx, room.RoomID); err != nil {
		return "", fmt.Errorf("leave %s: %w", room.RoomID, err)
	}
	return fmt.Sprintf("%s logged in, created %s, sent %s, read it back via /sync, left", cli.UserID, room.RoomID, sent.EventID), nil
}

// syncUntil long-polls /sync until the event with the given ID and body
// shows up in the room's timeline.
func syncUntil(ctx context.Context, cli *mautrix.Client, room id.RoomID, evID id.EventID, body string) error {
	since := ""
	for {
		resp, err := cli.SyncRequest(ctx, 2000, since, "", false, event.PresenceOffline)
		if err != nil {
			return fmt.Errorf("sync waiting for %s: %w", evID, err)
		}
		if joined, ok := resp.Rooms.Join[room]; ok {
			for _, ev := range joined.Timeline.Events {
				if ev.ID != evID {
					continue
				}
				if got, _ := ev.Content.Raw["body"].(string); got != body {
					return fmt.Errorf("sync returned %s with body %q, sent %q", evID, got, body)
				}
				return nil
			}
		}
		since = resp.NextBatch
	}
}

// logout removes the device the round trip created. It runs on its own
// short deadline so that it also happens after the probe timed out.
func logout(cli *mautrix.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = cli.Logout(ctx)
}
