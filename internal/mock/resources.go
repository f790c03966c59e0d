package mock

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
)

type props = map[string]any

// create returns the ID and the outputs the provider would compute.
func (c *Cloud) create(args pulumi.MockResourceArgs) (string, resource.PropertyMap) {
	in, name, typ := args.Inputs, args.Name, args.TypeToken
	region := c.region(args.Provider)
	gen := fmt.Sprint(c.Generation[name])
	h := func(n int) string { return hexID(n, typ, name, gen) }
	if id, out, ok := c.createHA(typ, name, in, region, h); ok {
		return id, out
	}
	if id, out, ok := c.createAlerting(typ, name, in, region, h); ok {
		return id, out
	}
	if id, out, ok := c.createMail(typ, name, in, region, h); ok {
		return id, out
	}
	if id, out, ok := c.createEKS(typ, name, in, region, h); ok {
		return id, out
	}
	switch typ {
	case "aws:ec2/vpc:Vpc":
		id := "vpc-0" + h(16)
		out := props{"arn": arn("ec2", region, "vpc/"+id), "ipv6CidrBlock": ""}
		if v, ok := in["assignGeneratedIpv6CidrBlock"]; ok && v.IsBool() && v.BoolValue() {
			out["ipv6CidrBlock"] = "2600:1f18:" + h(4) + ":" + h(2) + "00::/56"
		}
		return id, resource.NewPropertyMapFromMap(out)
	case "aws:ec2/subnet:Subnet":
		id := "subnet-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "subnet/"+id)})
	case "aws:ec2/internetGateway:InternetGateway":
		id := "igw-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "internet-gateway/"+id)})
	case "aws:ec2/routeTable:RouteTable":
		id := "rtb-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "route-table/"+id)})
	case "aws:ec2/routeTableAssociation:RouteTableAssociation":
		return "rtbassoc-0" + h(16), resource.PropertyMap{}
	case "aws:ec2/securityGroup:SecurityGroup":
		id := "sg-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "security-group/"+id), "name": name + "-" + h(7)})
	case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
		id := "sgr-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "security-group-rule/"+id), "securityGroupRuleId": id})
	case "aws:ec2/keyPair:KeyPair":
		keyName := str(in, "keyName")
		if keyName == "" {
			keyName = name + "-" + h(7)
		}
		return "key-0" + h(16), resource.NewPropertyMapFromMap(props{"keyName": keyName, "arn": arn("ec2", region, "key-pair/"+keyName), "fingerprint": h(32)})
	case "aws:ec2/instance:Instance":
		return c.instance(in, region, h)
	case "aws:ec2/eip:Eip":
		id := "eipalloc-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"allocationId": id, "publicIp": publicIPv4(h), "arn": arn("ec2", region, "elastic-ip/"+id)})
	case "aws:ec2/eipAssociation:EipAssociation":
		return "eipassoc-0" + h(16), resource.PropertyMap{}
	case "aws:ebs/volume:Volume":
		id := "vol-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("ec2", region, "volume/"+id)})
	case "aws:ec2/volumeAttachment:VolumeAttachment":
		return "vai-" + h(10), resource.PropertyMap{}
	case "aws:iam/role:Role":
		roleName := name + "-" + h(7)
		return roleName, resource.NewPropertyMapFromMap(props{"name": roleName, "arn": fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, roleName), "uniqueId": "AROA" + h(17)})
	case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
		return name + "-" + h(20), resource.PropertyMap{}
	case "aws:dlm/lifecyclePolicy:LifecyclePolicy":
		id := "policy-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arn("dlm", region, "policy/"+id)})
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		alarm := str(in, "name")
		if alarm == "" {
			alarm = name + "-" + h(7)
		}
		return alarm, resource.NewPropertyMapFromMap(props{"name": alarm, "arn": arn("cloudwatch", region, "alarm:"+alarm)})
	case "aws:route53/record:Record":
		id := fmt.Sprintf("%s_%s_%s", str(in, "zoneId"), str(in, "name"), str(in, "type"))
		return id, resource.NewPropertyMapFromMap(props{"fqdn": str(in, "name")})
	case "random:index/randomBytes:RandomBytes":
		raw := []byte(hexID(2*num(in, "length"), typ, name, gen))[:num(in, "length")]
		return "none", resource.PropertyMap{
			"base64": resource.MakeSecret(resource.NewStringProperty(base64.StdEncoding.EncodeToString(raw))),
			"hex":    resource.MakeSecret(resource.NewStringProperty(hex.EncodeToString(raw))),
		}
	case "random:index/randomString:RandomString":
		return "none", resource.PropertyMap{"result": resource.NewStringProperty(strings.ToLower(alnum(h(64), num(in, "length"))))}
	case "random:index/randomPassword:RandomPassword":
		// Keepers are part of the identity: pulumi-random replaces the
		// password, so it gets a new value, when they change.
		secret := resource.MakeSecret(resource.NewStringProperty(alnum(h(64)+fmt.Sprint(in["keepers"]), num(in, "length"))))
		return "none", resource.PropertyMap{"result": secret, "bcryptHash": resource.MakeSecret(resource.NewStringProperty("$2a$10$" + h(53)))}
	case "command:local:Command", "command:remote:Command":
		out := resource.NewPropertyMapFromMap(props{"stdout": "", "stderr": ""})
		if typ == "command:remote:Command" || name == "wait-ready" {
			// What the wait step prints, over SSH (remote) or through
			// Session Manager (local, the wrapper): the host's public
			// ED25519 key.
			_, key := sshKey(func(n int) string { return hexID(n, "hostkey", name) })
			out["stdout"] = resource.NewStringProperty(strings.TrimSpace(key["publicKeyOpenssh"].StringValue()) + " root@matrix")
		}
		if c.Commands != nil {
			out = c.Commands(name, in)
		}
		return name + "-" + h(8), out
	}
	if args.Custom {
		return name + "-" + h(8), resource.PropertyMap{}
	}
	return "", resource.PropertyMap{}
}

func (c *Cloud) instance(in resource.PropertyMap, region string, h func(int) string) (string, resource.PropertyMap) {
	id := "i-0" + h(16)
	out := props{
		"arn":           arn("ec2", region, "instance/"+id),
		"publicIp":      publicIPv4(func(n int) string { return h(n + 1)[1:] }),
		"privateIp":     "10.0.0.10",
		"ipv6Addresses": []any{},
	}
	subnet := c.lookup(str(in, "subnetId"))
	if subnet != nil {
		out["availabilityZone"] = str(subnet, "availabilityZone")
		if p, err := netip.ParsePrefix(str(subnet, "cidrBlock")); err == nil {
			out["privateIp"] = p.Addr().Next().Next().Next().Next().String()
		}
		if p, err := netip.ParsePrefix(str(subnet, "ipv6CidrBlock")); err == nil && num(in, "ipv6AddressCount") > 0 {
			b := p.Addr().As16()
			copy(b[8:], []byte{0, 0, 0, 0, 0, 0, 0x0a, 0x01})
			out["ipv6Addresses"] = []any{netip.AddrFrom16(b).String()}
		}
	}
	return id, resource.NewPropertyMapFromMap(out)
}

// publicIPv4 returns an address in the documentation ranges, which no one
// can mistake for a real host.
func publicIPv4(h func(int) string) string {
	var b byte
	fmt.Sscanf(h(2), "%02x", &b)
	return fmt.Sprintf("203.0.113.%d", 1+int(b)%250)
}

// sshKey returns a real ED25519 key pair derived from the resource identity,
// with the private halves marked secret as the tls provider marks them.
func sshKey(h func(int) string) (string, resource.PropertyMap) {
	seed := []byte(h(64))[:ed25519.SeedSize]
	priv := ed25519.NewKeyFromSeed(seed)
	pub, _ := ssh.NewPublicKey(priv.Public())
	block, _ := ssh.MarshalPrivateKey(priv, "")
	secret := func(s string) resource.PropertyValue { return resource.MakeSecret(resource.NewStringProperty(s)) }
	out := resource.PropertyMap{
		"publicKeyOpenssh":           resource.NewStringProperty(string(ssh.MarshalAuthorizedKey(pub))),
		"privateKeyOpenssh":          secret(string(pem.EncodeToMemory(block))),
		"privateKeyPem":              secret(string(pem.EncodeToMemory(block))),
		"publicKeyFingerprintSha256": resource.NewStringProperty(ssh.FingerprintSHA256(pub)),
	}
	return h(40), out
}

// alnum stretches a hex seed into n letters and digits, as pulumi-random
// makes passwords with special characters off.
func alnum(seed string, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", seed, i)))
		for _, x := range sum {
			if b.Len() == n {
				break
			}
			b.WriteByte(chars[int(x)%len(chars)])
		}
	}
	return b.String()
}

// checkVolume refuses a volume as CreateVolume would: in a zone the
// region does not have, from a snapshot the account does not hold, or
// smaller than its snapshot.
func (c *Cloud) checkVolume(region string, in resource.PropertyMap) error {
	zone := str(in, "availabilityZone")
	if names, _ := zonesOf(region); zone != "" && !slices.Contains(names, zone) {
		return fmt.Errorf("mock: CreateVolume: InvalidParameterValue: invalid availability zone %s in %s", zone, region)
	}
	snap := str(in, "snapshotId")
	if snap == "" {
		return nil
	}
	for _, s := range c.existingResources().Snapshots {
		if s.ID == snap {
			if size := num(in, "size"); size != 0 && size < s.Size {
				return fmt.Errorf("mock: CreateVolume: InvalidParameterValue: volume size %d GiB is smaller than snapshot %s (%d GiB)", size, snap, s.Size)
			}
			return nil
		}
	}
	return fmt.Errorf("mock: CreateVolume: InvalidSnapshot.NotFound: the snapshot '%s' does not exist", snap)
}

// checkAttachment refuses to attach a volume to an instance in another
// zone, as AttachVolume does. Unknown IDs (a preview) pass.
func (c *Cloud) checkAttachment(in resource.PropertyMap) error {
	vol, inst := c.lookup(str(in, "volumeId")), c.lookup(str(in, "instanceId"))
	if vol == nil || inst == nil {
		return nil
	}
	if vz, iz := str(vol, "availabilityZone"), str(inst, "availabilityZone"); vz != iz {
		return fmt.Errorf("mock: AttachVolume: InvalidVolume.ZoneMismatch: the volume %s is in %s, the instance %s in %s", str(in, "volumeId"), vz, str(in, "instanceId"), iz)
	}
	return nil
}
