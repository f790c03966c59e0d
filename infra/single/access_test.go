package single_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
)

// TestSessionIdentity: with matrix:access ssm (the default) the single
// host carries an instance profile whose role allows exactly what the SSM
// Agent needs for Session Manager (AWS's minimal policy), no managed
// policy, and a role EC2 alone may assume; with ssh it has none.
func TestSessionIdentity(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			c := run(t, m.DryRun, config()).Cloud
			var doc infra.HostPolicy
			if err := json.Unmarshal([]byte(get(one(t, c, policyType, "host-session").Inputs, "policy").StringValue()), &doc); err != nil {
				t.Fatal(err)
			}
			want := []string{"ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"}
			var granted []string
			for _, st := range doc.Statement {
				if st.Effect != "Allow" || !slices.Equal(st.Resource, []string{"*"}) {
					t.Errorf("statement %s: %s on %v", st.Sid, st.Effect, st.Resource)
				}
				granted = append(granted, st.Action...)
			}
			if !synthtest.SameSet(granted, want) || len(granted) != len(want) {
				t.Errorf("the host's role allows %v, want exactly %v", granted, want)
			}
			if n := len(c.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment")); n != 1 { // the snapshot role's
				t.Errorf("%d managed policy attachments, want only the snapshot role's", n)
			}
			role := one(t, c, "aws:iam/role:Role", "host")
			var trust struct {
				Statement []struct {
					Principal struct{ Service string }
					Action    string
				}
			}
			if err := json.Unmarshal([]byte(get(role.Inputs, "assumeRolePolicy").StringValue()), &trust); err != nil {
				t.Fatal(err)
			}
			if len(trust.Statement) != 1 || trust.Statement[0].Principal.Service != "ec2.amazonaws.com" || trust.Statement[0].Action != "sts:AssumeRole" {
				t.Errorf("host role trust %+v", trust)
			}
			profile := one(t, c, "aws:iam/instanceProfile:InstanceProfile", "host")
			host := one(t, c, "aws:ec2/instance:Instance", "host")
			if !m.DryRun && get(host.Inputs, "iamInstanceProfile").StringValue() != profile.Outputs["name"].StringValue() {
				t.Errorf("instance profile %v, want %v", get(host.Inputs, "iamInstanceProfile"), profile.Outputs["name"])
			}

			ssh := run(t, m.DryRun, sshConfig()).Cloud
			if n := len(ssh.Find("aws:iam/instanceProfile:InstanceProfile")); n != 0 {
				t.Errorf("access ssh: %d instance profiles", n)
			}
			if v := get(one(t, ssh, "aws:ec2/instance:Instance", "host").Inputs, "iamInstanceProfile"); !v.IsNull() {
				t.Errorf("access ssh: instance profile %v", v)
			}
		})
	}
}
