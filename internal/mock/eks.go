package mock

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// createEKS answers the eks topology's resources: the control plane, its
// node groups, add-ons and OIDC provider, the subnet tags, and what the
// Kubernetes provider creates in the cluster.
func (c *Cloud) createEKS(typ, name string, in resource.PropertyMap, region string, h func(int) string) (string, resource.PropertyMap, bool) {
	switch typ {
	case "aws:eks/cluster:Cluster":
		cluster := str(in, "name")
		oidc := strings.ToUpper(h(32))
		vpc := Get(in, "vpcConfig").ObjectValue().Copy()
		vpc["clusterSecurityGroupId"] = resource.NewStringProperty("sg-0" + h(16))
		vpc["vpcId"] = resource.NewStringProperty("vpc-0" + h(16))
		return cluster, resource.PropertyMap{
			"arn":                  arn("eks", region, "cluster/"+cluster),
			"endpoint":             resource.NewStringProperty(fmt.Sprintf("https://%s.gr7.%s.eks.amazonaws.com", oidc, region)),
			"certificateAuthority": resource.NewObjectProperty(resource.PropertyMap{"data": resource.NewStringProperty(base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n" + h(64) + "\n-----END CERTIFICATE-----\n")))}),
			"identities": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
				"oidcs": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
					"issuer": resource.NewStringProperty(fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", region, oidc)),
				})}),
			})}),
			"vpcConfig":       resource.NewObjectProperty(vpc),
			"status":          resource.NewStringProperty("ACTIVE"),
			"platformVersion": resource.NewStringProperty("eks.1"),
		}, true
	case "aws:eks/nodeGroup:NodeGroup":
		group := name + "-" + h(8)
		return str(in, "clusterName") + ":" + group, resource.NewPropertyMapFromMap(props{
			"nodeGroupName": group, "status": "ACTIVE", "arn": arn("eks", region, "nodegroup/"+str(in, "clusterName")+"/"+group+"/"+h(8)),
		}), true
	case "aws:eks/addon:Addon":
		return str(in, "clusterName") + ":" + str(in, "addonName"), resource.NewPropertyMapFromMap(props{
			"addonVersion": "v1.0.0-eksbuild.1", "arn": arn("eks", region, "addon/"+str(in, "clusterName")+"/"+str(in, "addonName")+"/"+h(8)),
		}), true
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		host := strings.TrimPrefix(str(in, "url"), "https://")
		return fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", Account, host), resource.NewPropertyMapFromMap(props{
			"arn": fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", Account, host),
		}), true
	case "aws:iam/rolePolicy:RolePolicy":
		return name + "-" + h(8), resource.PropertyMap{}, true
	case "aws:ec2/tag:Tag":
		return str(in, "resourceId") + "," + str(in, "key"), resource.PropertyMap{}, true
	case "kubernetes:helm.sh/v3:Release":
		return str(in, "namespace") + "/" + str(in, "name"), resource.PropertyMap{"status": resource.NewObjectProperty(resource.NewPropertyMapFromMap(props{
			"name": str(in, "name"), "namespace": str(in, "namespace"), "chart": str(in, "chart"),
			"version": str(in, "version"), "status": "deployed", "revision": 1,
		}))}, true
	}
	if strings.HasPrefix(typ, "kubernetes:") {
		return name + "-" + h(8), resource.PropertyMap{}, true
	}
	return "", nil, false
}

// loadBalancer answers aws:lb/getLoadBalancer for the ALB the load
// balancer controller created under the name the program gave it.
func loadBalancer(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	name := str(args, "name")
	if name == "" {
		return nil, fmt.Errorf("mock: getLoadBalancer needs a name or an ARN")
	}
	h := func(n int) string { return hexID(n, "lb", name) }
	return resource.NewPropertyMapFromMap(props{
		"name": name, "arn": fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", region, Account, name, h(16)),
		"dnsName": fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", name, 1000000000+int(hexNum(h(8)))%1000000000, region),
		"zoneId":  albZones[region],
	}), nil
}
