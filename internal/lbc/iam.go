package lbc

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Partitions are those IAMPolicy writes a document for: the ones the
// homeserver runs in, and the ones the controller publishes a policy for
// (docs/install/iam_policy.json, iam_policy_cn.json, iam_policy_us-gov.json).
var Partitions = []string{"aws", "aws-cn", "aws-us-gov"}

// The tag every AWS resource the controller creates carries, and which the
// policy's conditions key on: it may change or delete only what it created.
const (
	requestTagged  = "aws:RequestTag/elbv2.k8s.aws/cluster"
	resourceTagged = "aws:ResourceTag/elbv2.k8s.aws/cluster"
)

// IAMPolicy returns the controller's IAM policy for partition, as a JSON
// policy document for the IRSA role.
//
// It is the permission set the controller documents for its version
// AppVersion (docs/install/iam_policy*.json at tag v3.5.0): the same
// statements, each one's resources in partition. Those files differ only in
// the partition of their ARNs (and in statement order), so one table serves
// all three; a test compares the result with each file.
func IAMPolicy(partition string) (string, error) {
	if !slices.Contains(Partitions, partition) {
		return "", fmt.Errorf("lbc: no IAM policy for partition %q: the controller publishes policies for %v", partition, Partitions)
	}
	doc := policyDocument{Version: "2012-10-17", Statement: statements(partition)}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("lbc: %w", err)
	}
	return string(b), nil
}

type policyDocument struct {
	Version   string
	Statement []statement
}

type statement struct {
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any `json:",omitempty"`
}

func allow(actions []string, resources []string, cond map[string]map[string]any) statement {
	return statement{Effect: "Allow", Action: actions, Resource: resources, Condition: cond}
}

var anyResource = []string{"*"}

func statements(partition string) []statement {
	arn := func(service, resource string) string {
		return "arn:" + partition + ":" + service + ":*:*:" + resource
	}
	securityGroups := []string{arn("ec2", "security-group/*")}
	loadBalancers := []string{
		arn("elasticloadbalancing", "targetgroup/*/*"),
		arn("elasticloadbalancing", "loadbalancer/net/*/*"),
		arn("elasticloadbalancing", "loadbalancer/app/*/*"),
	}
	listeners := []string{
		arn("elasticloadbalancing", "listener/net/*/*/*"),
		arn("elasticloadbalancing", "listener/app/*/*/*"),
		arn("elasticloadbalancing", "listener-rule/net/*/*/*"),
		arn("elasticloadbalancing", "listener-rule/app/*/*/*"),
	}
	created := map[string]any{requestTagged: "false"}                                // being created with the tag
	owned := map[string]any{resourceTagged: "false"}                                 // carrying the tag
	ownedUntouched := map[string]any{requestTagged: "true", resourceTagged: "false"} // carrying it, the request leaving it alone
	return []statement{
		// The first load balancer of an account needs ELB's service-linked role.
		allow([]string{"iam:CreateServiceLinkedRole"}, anyResource,
			map[string]map[string]any{"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
		// Discovery: subnets, security groups, targets, and the state of
		// the load balancers it reconciles.
		allow(describe, anyResource, nil),
		// What Ingress and Service annotations refer to: certificates,
		// Cognito clients, WAF ACLs, Shield protection.
		allow(integrations, anyResource, nil),
		// Opening node and pod security groups to the load balancers'.
		allow([]string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"}, anyResource, nil),
		allow([]string{"ec2:CreateSecurityGroup"}, anyResource, nil),
		// Its own security groups: tagged at creation, then changed only
		// while they carry its tag.
		allow([]string{"ec2:CreateTags"}, securityGroups, map[string]map[string]any{
			"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
			"Null":         created,
		}),
		allow([]string{"ec2:CreateTags", "ec2:DeleteTags"}, securityGroups, map[string]map[string]any{"Null": ownedUntouched}),
		allow([]string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"}, anyResource,
			map[string]map[string]any{"Null": owned}),
		// Load balancers and target groups: created with its tag, then
		// changed only while they carry it.
		allow([]string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"}, anyResource,
			map[string]map[string]any{"Null": created}),
		allow([]string{"elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
			"elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"}, anyResource, nil),
		allow([]string{"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"}, loadBalancers,
			map[string]map[string]any{"Null": ownedUntouched}),
		allow([]string{"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"}, listeners, nil),
		allow(modifyOwned, anyResource, map[string]map[string]any{"Null": owned}),
		allow([]string{"elasticloadbalancing:AddTags"}, loadBalancers, map[string]map[string]any{
			"StringEquals": {"elasticloadbalancing:CreateAction": []string{"CreateTargetGroup", "CreateLoadBalancer"}},
			"Null":         created,
		}),
		// Pods (target type ip) and nodes in and out of target groups.
		allow([]string{"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"},
			[]string{arn("elasticloadbalancing", "targetgroup/*/*")}, nil),
		allow([]string{"elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener",
			"elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
			"elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities"}, anyResource, nil),
	}
}

var describe = []string{
	"ec2:DescribeAccountAttributes",
	"ec2:DescribeAddresses",
	"ec2:DescribeAvailabilityZones",
	"ec2:DescribeInternetGateways",
	"ec2:DescribeVpcs",
	"ec2:DescribeVpcPeeringConnections",
	"ec2:DescribeSubnets",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeTags",
	"ec2:GetCoipPoolUsage",
	"ec2:DescribeCoipPools",
	"ec2:GetSecurityGroupsForVpc",
	"ec2:DescribeIpamPools",
	"ec2:DescribeRouteTables",
	"elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeLoadBalancerAttributes",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeListenerCertificates",
	"elasticloadbalancing:DescribeSSLPolicies",
	"elasticloadbalancing:DescribeRules",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetGroupAttributes",
	"elasticloadbalancing:DescribeTargetHealth",
	"elasticloadbalancing:DescribeTags",
	"elasticloadbalancing:DescribeTrustStores",
	"elasticloadbalancing:DescribeListenerAttributes",
	"elasticloadbalancing:DescribeCapacityReservation",
}

var integrations = []string{
	"cognito-idp:DescribeUserPoolClient",
	"acm:ListCertificates",
	"acm:DescribeCertificate",
	"iam:ListServerCertificates",
	"iam:GetServerCertificate",
	"waf-regional:GetWebACL",
	"waf-regional:GetWebACLForResource",
	"waf-regional:AssociateWebACL",
	"waf-regional:DisassociateWebACL",
	"wafv2:GetWebACL",
	"wafv2:GetWebACLForResource",
	"wafv2:AssociateWebACL",
	"wafv2:DisassociateWebACL",
	"shield:GetSubscriptionState",
	"shield:DescribeProtection",
	"shield:CreateProtection",
	"shield:DeleteProtection",
}

var modifyOwned = []string{
	"elasticloadbalancing:ModifyLoadBalancerAttributes",
	"elasticloadbalancing:SetIpAddressType",
	"elasticloadbalancing:SetSecurityGroups",
	"elasticloadbalancing:SetSubnets",
	"elasticloadbalancing:DeleteLoadBalancer",
	"elasticloadbalancing:ModifyTargetGroup",
	"elasticloadbalancing:ModifyTargetGroupAttributes",
	"elasticloadbalancing:DeleteTargetGroup",
	"elasticloadbalancing:ModifyListenerAttributes",
	"elasticloadbalancing:ModifyCapacityReservation",
	"elasticloadbalancing:ModifyIpPools",
}
