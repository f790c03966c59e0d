package lbc

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// IngressClass is the class the controller serves, the ingressClassName of
// every Ingress the ESS chart renders (internal/ess sets it; a test renders
// both charts and compares). IngressController is the controller name the
// chart writes into that IngressClass.
const (
	IngressClass      = "alb"
	IngressController = "ingress.k8s.aws/alb"
)

// DefaultReplicas is the chart's own default: with two pods the
// controller's admission webhooks (failurePolicy Fail for Ingresses and
// TargetGroupBindings) keep answering while one pod is rescheduled.
const DefaultReplicas = 2

// roleAnnotation is how IRSA binds a service account to an IAM role
// (EKS User Guide, "Assign IAM roles to Kubernetes service accounts").
const roleAnnotation = "eks.amazonaws.com/role-arn"

// Input is what the eks topology knows from the stack config and from the
// AWS resources it declares.
type Input struct {
	ClusterName string // the EKS cluster's name
	Region      string // the stack's region, e.g. "eu-west-1"
	VPCID       string // the cluster's VPC, e.g. "vpc-0a1b2c3d4e5f60718"
	// RoleARN is the IAM role of the controller's service account (IRSA),
	// trusting IRSASubject through the cluster's OIDC provider and
	// carrying IAMPolicy.
	RoleARN  string
	Replicas int // DefaultReplicas unless the operator wants more
}

// Values derives the chart's values from in. Every problem with in is
// reported at once.
func Values(in Input) (map[string]any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return map[string]any{
		// Names the controller's AWS resources and finds the subnets
		// tagged kubernetes.io/cluster/<name>.
		"clusterName": in.ClusterName,
		// Given, the controller does not ask the EC2 instance metadata
		// service for them (docs/deploy/installation.md, "Using the Amazon
		// EC2 instance metadata server version 2"), so the nodes can keep
		// IMDSv2's hop limit at 1, out of reach of every pod and its
		// node-role credentials.
		"region": in.Region,
		"vpcId":  in.VPCID,
		"serviceAccount": map[string]any{
			"create":      true,
			"name":        ServiceAccountName,
			"annotations": map[string]any{roleAnnotation: in.RoleARN},
		},
		"replicaCount": in.Replicas,
		// Soft anti-affinity on the node (the chart's default, owned here
		// so that an override is a decision): two replicas on one node
		// would fall together.
		"configureDefaultAffinity": true,
		// A node drain evicts one controller pod at a time. The chart
		// renders the budget only with more than one replica.
		"podDisruptionBudget":        map[string]any{"maxUnavailable": 1},
		"createIngressClassResource": true,
		"ingressClass":               IngressClass,
		// The chart generates the webhooks' CA and serving certificate
		// itself: no cert-manager to install and keep running. With
		// keepTLSSecret an upgrade reuses the certificate in the cluster
		// (Helm's lookup, which a helm.v3.Release performs), instead of
		// changing the CA in the webhook configurations while the running
		// pods still serve the old certificate until the kubelet refreshes
		// their Secret volume.
		"enableCertManager": false,
		"keepTLSSecret":     true,
		// Without the mutator the controller does not become the default
		// for every LoadBalancer Service of the cluster (it would set their
		// loadBalancerClass, and refuse their creation while it is down).
		// The ESS chart's one such Service, the SFU's, opts in with the
		// aws-load-balancer-type "external" and nlb-target-type
		// annotations, which is how the controller selects a Service that
		// has no loadBalancerClass (pkg/service/service_utils.go,
		// IsServiceSupported; docs/guide/service/nlb.md, both at v3.5.0).
		"enableServiceMutatorWebhook": false,
	}, nil
}

// Formats AWS documents for the values: the EKS CreateCluster API
// reference for the cluster name, the EC2 resource ID format (8 or 17 hex
// digits) for the VPC, the IAM ARN format for the role. The region format
// covers the partitions the homeserver runs in (aws, aws-cn, aws-us-gov).
var (
	clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$`)
	regionRE      = regexp.MustCompile(`^(cn|us-gov|[a-z]{2})-[a-z]+-[0-9]+$`)
	vpcIDRE       = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	roleARNRE     = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
)

func (in Input) check() error {
	var p []string
	need := func(ok bool, field, why string) {
		if !ok {
			p = append(p, field+" "+why)
		}
	}
	need(clusterNameRE.MatchString(in.ClusterName), "ClusterName", fmt.Sprintf("%q must be 1-100 letters, digits, '-' or '_', starting with a letter or digit (an EKS cluster name)", in.ClusterName))
	need(regionRE.MatchString(in.Region), "Region", fmt.Sprintf("%q is not an AWS region name such as eu-west-1", in.Region))
	need(vpcIDRE.MatchString(in.VPCID), "VPCID", fmt.Sprintf("%q is not a VPC ID such as vpc-0a1b2c3d4e5f60718", in.VPCID))
	if m := roleARNRE.FindStringSubmatch(in.RoleARN); m == nil {
		p = append(p, fmt.Sprintf("RoleARN %q is not an IAM role ARN such as arn:aws:iam::123456789012:role/lbc", in.RoleARN))
	} else if regionRE.MatchString(in.Region) && m[1] != partitionOf(in.Region) {
		// STS in one partition cannot issue credentials for a role in
		// another: the controller would start and never reach AWS.
		p = append(p, fmt.Sprintf("RoleARN %q is in partition %s, but Region %s is in %s", in.RoleARN, m[1], in.Region, partitionOf(in.Region)))
	}
	need(in.Replicas >= 1, "Replicas", fmt.Sprintf("is %d: at least 1 (DefaultReplicas is %d)", in.Replicas, DefaultReplicas))
	if len(p) > 0 {
		return errors.New("lbc: invalid input:\n- " + strings.Join(p, "\n- "))
	}
	return nil
}

// partitionOf names the partition of a region of the form regionRE
// accepts.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
