package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SSHDocument is the Session Manager document that forwards a session to
// the host's own sshd (port 22 on the instance, reached from inside it): the
// SSH protocol, with its host key check and its encryption, runs inside the
// session, so nothing listens on the public address.
const SSHDocument = "AWS-StartSSHSession"

// SessionActions are what the host's SSM Agent needs for Session Manager,
// and nothing else: registering the instance (ssm:UpdateInstanceInformation)
// and the control and data channels of a session (ssmmessages:*). This is
// AWS's own minimal instance profile policy for Session Manager
// ("Create a custom IAM instance profile for Session Manager",
// https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-create-iam-instance-profile.html;
// the same five actions are the AWS managed policy
// AWSCloud9SSMInstanceProfile). That page adds s3:GetEncryptionConfiguration
// and kms:Decrypt only for session logging to S3 and KMS-encrypted sessions,
// which this stack does not configure. The agent itself ships with
// Canonical's Ubuntu 24.04 AMIs, as a snap ("Find AMIs with the SSM Agent
// preinstalled",
// https://docs.aws.amazon.com/systems-manager/latest/userguide/ami-preinstalled-agent.html).
var SessionActions = []string{
	"ssm:UpdateInstanceInformation",
	"ssmmessages:CreateControlChannel",
	"ssmmessages:CreateDataChannel",
	"ssmmessages:OpenControlChannel",
	"ssmmessages:OpenDataChannel",
}

// sessionPolicy is the single host's inline policy with matrix:access ssm.
// The actions take no resource ARN (Resource "*" in AWS's policy).
func sessionPolicy() (string, error) {
	p := HostPolicy{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: "SessionManager", Effect: "Allow", Action: SessionActions, Resource: []string{"*"}},
	}}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("session policy: %w", err)
	}
	return string(b), nil
}

// ec2TrustPolicy lets EC2 hand a role's credentials to the instance.
const ec2TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// NewInstanceRole is the identity of a host of either topology: a role EC2
// may assume and the instance profile that carries it. The caller grants
// the role what its host does.
func NewInstanceRole(ctx *pulumi.Context, description string, opts ...pulumi.ResourceOption) (*iam.Role, *iam.InstanceProfile, error) {
	role, err := iam.NewRole(ctx, "host", &iam.RoleArgs{
		Description:      pulumi.String(description),
		AssumeRolePolicy: pulumi.String(ec2TrustPolicy),
		Tags:             NameTag(ctx, "host"),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, "host", &iam.InstanceProfileArgs{
		Role: role.Name,
		Tags: NameTag(ctx, "host"),
	}, opts...)
	return role, profile, err
}

// NewSessionIdentity gives a single host what Session Manager needs and
// nothing more: the role, its profile, and the inline SessionActions.
func NewSessionIdentity(ctx *pulumi.Context, opts ...pulumi.ResourceOption) (*iam.InstanceProfile, *iam.RolePolicy, error) {
	role, profile, err := NewInstanceRole(ctx, "Matrix homeserver host: AWS Systems Manager Session Manager only", opts...)
	if err != nil {
		return nil, nil, err
	}
	doc, err := sessionPolicy()
	if err != nil {
		return nil, nil, err
	}
	policy, err := iam.NewRolePolicy(ctx, "host-session", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: pulumi.String(doc),
	}, opts...)
	return profile, policy, err
}

// SessionCommand is a shell on the instance through Session Manager.
func SessionCommand(instanceID, region string) string {
	return fmt.Sprintf("aws ssm start-session --target %s --region %s", instanceID, region)
}

// ProxyCommand is the ssh ProxyCommand that carries SSH to instanceID
// through a Session Manager session (%p: the port ssh would connect to).
// The target is the instance ID, so AWS, which authenticates the session,
// decides which instance answers, not whoever holds an address.
func ProxyCommand(instanceID, region string) string {
	return fmt.Sprintf("aws ssm start-session --target %s --document-name %s --parameters portNumber=%%p --region %s", instanceID, SSHDocument, region)
}
