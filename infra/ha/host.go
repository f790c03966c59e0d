package ha

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Where the ha host keeps what it fetches, and the wrapper's cache.
const (
	hostTreeDir   = "/opt/matrix-on-aws"
	hostLockFile  = "/run/lock/matrix-bootstrap.lock"
	rootDevice    = "/dev/sda1" // root device of Canonical's Ubuntu images
	bootstrapName = "bootstrap-host"
	// HostPackages come from Ubuntu 24.04's archive: ansible (9.x, with
	// ansible-core 2.16 and the community.general/docker collections), git
	// for the upstream checkout, boto3 to fetch from S3 and SSM with the
	// instance's credentials, psql to create Synapse's database.
	hostPackagesList = "ansible git python3-boto3 postgresql-client"
	// bootstrapTimeout bounds one configuration run (first boot: packages,
	// images, every role), and how long pulumi up waits for it.
	bootstrapTimeout = 3600
	// healthGrace is how long a new host may take to become healthy before
	// the Auto Scaling Group replaces it.
	healthGrace = 2400
	// UserDataLimit is EC2's limit on user data (before base64).
	UserDataLimit = 16 * 1024
)

// The ha host's swap: what ansible/prepare.yml gives a single host, which
// an ha host never runs. Below swapMinRAMMiB of memory it adds a file of
// swapSizeMiB: with media on S3 the playbook builds a custom Synapse image
// (the storage provider), which can exhaust a 2 GiB t3.small without it.
const (
	swapFile      = "/swapfile"
	swapSizeMiB   = 2048
	swapMinRAMMiB = 4096
)

// swapScript adds, enables and registers the swap file when the host has
// less memory than swapMinRAMMiB, as prepare.yml does: idempotent, and the
// file is private and complete (mkswap'd) before it takes its name.
func swapScript() string {
	return fmt.Sprintf(`mem_mib=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
if [ "$mem_mib" -lt %[3]d ]; then
  if [ ! -f %[1]s ]; then
    (umask 077 && dd if=/dev/zero of=%[1]s.partial bs=1M count=%[2]d status=none && mkswap %[1]s.partial >/dev/null && mv %[1]s.partial %[1]s)
  fi
  chmod 0600 %[1]s
  grep -q '^%[1]s[[:space:]]' /etc/fstab || printf '%%s none swap sw 0 0\n' %[1]s >>/etc/fstab
  swapon --show=NAME --noheadings | grep -qxF %[1]s || swapon %[1]s
fi
`, swapFile, swapSizeMiB, swapMinRAMMiB)
}

// HostPackages returns the apt packages a host installs at first boot.
func HostPackages() []string { return strings.Fields(hostPackagesList) }

// hostPolicy grants exactly what the host does: media objects in its
// bucket, the one tree object, the stack's parameters. The parameters
// use the AWS managed key aws/ssm, whose key policy lets the account's
// principals decrypt through SSM only, so no kms:Decrypt is granted here.
func hostPolicy(mediaARN, treeARN string, parameterARNs ...string) (string, error) {
	p := infra.HostPolicy{Version: "2012-10-17", Statement: []infra.PolicyStatement{
		{Sid: "MediaList", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{mediaARN}},
		{Sid: "MediaObjects", Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, Resource: []string{mediaARN + "/*"}},
		{Sid: "AnsibleTree", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{treeARN}},
		{Sid: "Parameters", Effect: "Allow", Action: []string{"ssm:GetParameter"}, Resource: parameterARNs},
	}}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("host policy: %w", err)
	}
	return string(b), nil
}

// bootstrap says how a host configures itself: the same command at first
// boot (user data) and on re-runs (the association), which adds what it
// expects to find so a stale read fails instead of applying old inputs.
type bootstrap struct {
	Region, Bucket, VarsParameter, RedactParameter, SigningKeyParameter, Hostname, Hosts string
	ExpectVarsSHA, ExpectTreeSHA                                                         string
	// AfterCloudInit waits for first-boot configuration to end first; the
	// user data itself must not (it is part of it).
	AfterCloudInit bool
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Script is the shell script that fetches the tree and hands over to
// ansible/bootstrap-host, under a lock that serialises every run on the host.
func (b bootstrap) Script() string {
	tarball := hostTreeDir + "/" + infra.TreeObjectKey
	var s strings.Builder
	s.WriteString("set -eu\n")
	if b.AfterCloudInit {
		s.WriteString("cloud-init status --wait >/dev/null || true\n")
	}
	fmt.Fprintf(&s, "exec 8>%s\nflock 8\n", hostLockFile)
	// Before the playbook, which needs it; on every run, so a host
	// started before the swap existed gets it too.
	s.WriteString(swapScript())
	fmt.Fprintf(&s, "install -d -m 0700 %s\n", hostTreeDir)
	fmt.Fprintf(&s, "python3 -c 'import sys, boto3; boto3.client(\"s3\", region_name=sys.argv[1]).download_file(sys.argv[2], sys.argv[3], sys.argv[4])' %s %s %s %s\n",
		shellQuote(b.Region), shellQuote(b.Bucket), shellQuote(infra.TreeObjectKey), tarball)
	fmt.Fprintf(&s, "rm -rf %s/%s\ntar -xf %s -C %s --no-same-owner\n", hostTreeDir, ansible.Dir, tarball, hostTreeDir)
	args := []string{
		"--region", b.Region, "--tree", tarball,
		"--vars-parameter", b.VarsParameter, "--redact-parameter", b.RedactParameter,
		"--signing-key-parameter", b.SigningKeyParameter,
		"--inventory-hostname", b.Hostname, "--inventory-hosts-b64", base64.StdEncoding.EncodeToString([]byte(b.Hosts)),
		"--health-port", strconv.Itoa(infra.TraefikHealthPort), "--health-path", infra.HealthPath,
		"--setup-tags", infra.HASetupTags, "--start-tags", infra.HAStartTags,
	}
	if b.ExpectVarsSHA != "" {
		args = append(args, "--expect-vars-sha256", b.ExpectVarsSHA, "--expect-tree-sha256", b.ExpectTreeSHA)
	}
	fmt.Fprintf(&s, "exec %s/%s/%s", hostTreeDir, ansible.Dir, bootstrapName)
	for _, a := range args {
		s.WriteString(" " + shellQuote(a))
	}
	s.WriteString("\n")
	return s.String()
}

// cloudConfigHA is a new host's user data: its name, the packages, and the
// bootstrap run.
func cloudConfigHA(cfg infra.Config, b bootstrap) (string, error) {
	doc := struct {
		Hostname       string     `yaml:"hostname"`
		FQDN           string     `yaml:"fqdn"`
		ManageEtcHosts bool       `yaml:"manage_etc_hosts"`
		PackageUpdate  bool       `yaml:"package_update"`
		Packages       []string   `yaml:"packages"`
		RunCmd         [][]string `yaml:"runcmd"`
	}{"matrix", cfg.MatrixHost(), true, true, HostPackages(), [][]string{{"bash", "-c", b.Script()}}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("user data: %w", err)
	}
	s := "#cloud-config\n" + string(out)
	if len(s) > UserDataLimit {
		return "", fmt.Errorf("user data: %d bytes, EC2 allows %d", len(s), UserDataLimit)
	}
	return s, nil
}

// parameterTier picks the cheapest SSM tier the value fits: Standard holds
// 4 KiB, Advanced 8 KiB.
func parameterTier(value string) (string, error) {
	switch n := len(value); {
	case n <= 4096:
		return "Standard", nil
	case n <= 8192:
		return "Advanced", nil
	default:
		return "", fmt.Errorf("%d bytes do not fit an SSM parameter (8192 at most)", n)
	}
}

func (ha *HA) newHost(ctx *pulumi.Context, cfg infra.Config, hs *infra.Homeserver, opts ...pulumi.ResourceOption) (*infra.Provisioning, error) {
	pin, err := ansible.LoadPin()
	if err != nil {
		return nil, err
	}
	p := &infra.Provisioning{}
	if err := p.NewSecrets(ctx, cfg, opts...); err != nil {
		return nil, err
	}
	hosts, err := inventory.Hosts(inventory.Host{Name: cfg.MatrixHost(), Local: true})
	if err != nil {
		return nil, err
	}
	p.Rendered.Hosts = pulumi.String(hosts).ToStringOutput()
	p.Rendered.Vars, p.Rendered.MaskedVars = renderHAVars(cfg, hs.Facts, pin, ha, p, hs.Mail.Relayed())

	secure := func(name, role string, value pulumi.StringOutput) (*ssm.Parameter, error) {
		tier := pulumi.Unsecret(value.ApplyT(parameterTier)).(pulumi.StringOutput)
		return ssm.NewParameter(ctx, name, &ssm.ParameterArgs{
			Name:        pulumi.String(parameterPath(ctx) + "/" + name),
			Description: pulumi.String(role),
			Type:        pulumi.String("SecureString"),
			Value:       pulumi.ToSecret(value).(pulumi.StringOutput),
			Tier:        tier,
			Tags:        infra.NameTag(ctx, name),
		}, opts...)
	}
	if ha.VarsParameter, err = secure("vars", "vars.yml of the upstream playbook for "+cfg.MatrixHost(), p.Rendered.Vars); err != nil {
		return nil, err
	}
	// The host masks these in the playbook's output, as run-playbook does
	// for a single host; the database password is the ha topology's own.
	redactParts := []any{p.Redactions(cfg, hs.Mail.Relayed()), ha.DBPassword.Result}
	if ha.MASDBPassword != nil {
		redactParts = append(redactParts, ha.MASDBPassword.Result)
	}
	redact := pulumi.All(redactParts...).ApplyT(func(v []any) string {
		lines := make([]string, len(v))
		for i, x := range v {
			lines[i] = x.(string)
		}
		return strings.Join(lines, "\n")
	}).(pulumi.StringOutput)
	if ha.RedactParameter, err = secure("redact", "secret values the host masks in the playbook's output for "+cfg.MatrixHost(), redact); err != nil {
		return nil, err
	}
	signingKey, err := infra.NewSigningKey(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if ha.SigningKeyParameter, err = secure("signing-key", "Synapse signing key of "+cfg.Domain+": the server's identity in federation, kept across hosts", signingKey); err != nil {
		return nil, err
	}
	if err := ha.newIdentity(ctx, hs.Facts, opts...); err != nil {
		return nil, err
	}
	base := bootstrap{
		Region: cfg.Region, VarsParameter: parameterPath(ctx) + "/vars", RedactParameter: parameterPath(ctx) + "/redact",
		SigningKeyParameter: parameterPath(ctx) + "/signing-key",
		Hostname:            cfg.MatrixHost(), Hosts: hosts,
	}
	userData := ha.BootBucket.Bucket.ApplyT(func(bucket string) (string, error) {
		b := base
		b.Bucket = bucket
		s, err := cloudConfigHA(cfg, b)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	}).(pulumi.StringOutput)
	if ha.LaunchTemplate, err = ec2.NewLaunchTemplate(ctx, "host", &ec2.LaunchTemplateArgs{
		Description:         pulumi.Sprintf("Matrix homeserver host of %s", cfg.MatrixHost()),
		ImageId:             pulumi.String(hs.Facts.AMI),
		InstanceType:        pulumi.String(cfg.InstanceType),
		IamInstanceProfile:  ec2.LaunchTemplateIamInstanceProfileArgs{Arn: ha.Profile.Arn},
		VpcSecurityGroupIds: pulumi.StringArray{ha.HostGroup.ID()},
		MetadataOptions: ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// Two hops: Synapse's S3 storage provider runs in a container
			// and reads the instance profile's credentials from IMDS.
			HttpPutResponseHopLimit: pulumi.Int(2),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String(rootDevice),
			Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeType:          pulumi.String("gp3"),
				VolumeSize:          pulumi.Int(cfg.RootVolumeGiB),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		UserData:             userData,
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: infra.NameTag(ctx, "host")},
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: infra.NameTag(ctx, "root")},
		},
		Tags: infra.NameTag(ctx, "host"),
		// As for the single host: a newer Ubuntu image must not replace the
		// running host; roll deliberately (docs/topologies.md).
	}, infra.WithOpts(opts, pulumi.IgnoreChanges([]string{"imageId"}))...); err != nil {
		return nil, err
	}
	var subnets pulumi.StringArray
	for _, s := range hs.Network.Subnets {
		subnets = append(subnets, s.ID())
	}
	after := []pulumi.Resource{ha.VarsParameter, ha.RedactParameter, ha.SigningKeyParameter, ha.Tree, ha.RolePolicy}
	for _, l := range ha.Listeners {
		after = append(after, l) // target groups report health only behind a listener
	}
	if ha.Group, err = autoscaling.NewGroup(ctx, "host", &autoscaling.GroupArgs{
		// One host: the playbook runs one Synapse main process per
		// database, and two would corrupt it. The group heals, it does not
		// scale.
		MinSize:            pulumi.Int(1),
		MaxSize:            pulumi.Int(1),
		DesiredCapacity:    pulumi.Int(1),
		VpcZoneIdentifiers: subnets,
		LaunchTemplate: autoscaling.GroupLaunchTemplateArgs{
			Id:      ha.LaunchTemplate.ID(),
			Version: ha.LaunchTemplate.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput),
		},
		TargetGroupArns:        pulumi.StringArray{ha.WebTarget.Arn, ha.FedTarget.Arn},
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(healthGrace),
		// pulumi up waits until the host is healthy in the target groups.
		WaitForElbCapacity:     pulumi.Int(1),
		WaitForCapacityTimeout: pulumi.String(fmt.Sprintf("%dm", healthGrace/60+5)),
		// A new launch template version replaces the host: the old one is
		// terminated before the new one starts, never two at once.
		InstanceRefresh: autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(0),
				MaxHealthyPercentage: pulumi.Int(100),
				InstanceWarmup:       pulumi.String(strconv.Itoa(healthGrace)),
			},
		},
		Tags: autoscaling.GroupTagArray{
			autoscaling.GroupTagArgs{Key: pulumi.String("Name"), Value: pulumi.Sprintf("%s-%s-host", ctx.Project(), ctx.Stack()), PropagateAtLaunch: pulumi.Bool(true)},
			autoscaling.GroupTagArgs{Key: pulumi.String("Project"), Value: pulumi.String(ctx.Project()), PropagateAtLaunch: pulumi.Bool(true)},
			autoscaling.GroupTagArgs{Key: pulumi.String("Stack"), Value: pulumi.String(ctx.Stack()), PropagateAtLaunch: pulumi.Bool(true)},
			autoscaling.GroupTagArgs{Key: pulumi.String("ManagedBy"), Value: pulumi.String("pulumi"), PropagateAtLaunch: pulumi.Bool(true)},
		},
	}, infra.WithOpts(opts, pulumi.DependsOn(after))...); err != nil {
		return nil, err
	}
	if !cfg.Provision {
		return p, nil
	}
	return p, ha.newApply(ctx, cfg, hs, p, base, opts...)
}

// newIdentity is the host's role: the inline least-privilege policy plus
// AmazonSSMManagedInstanceCore, which Run Command (the association) and
// Session Manager need.
func (ha *HA) newIdentity(ctx *pulumi.Context, facts infra.Facts, opts ...pulumi.ResourceOption) error {
	var err error
	if ha.Role, ha.Profile, err = infra.NewInstanceRole(ctx, "Matrix homeserver host: media bucket, its configuration parameters, SSM", opts...); err != nil {
		return err
	}
	if _, err = iam.NewRolePolicyAttachment(ctx, "host-ssm", &iam.RolePolicyAttachmentArgs{
		Role:      ha.Role.Name,
		PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/AmazonSSMManagedInstanceCore", facts.Partition),
	}, opts...); err != nil {
		return err
	}
	doc := pulumi.All(ha.MediaBucket.Arn, ha.BootBucket.Arn, ha.VarsParameter.Arn, ha.RedactParameter.Arn, ha.SigningKeyParameter.Arn).ApplyT(func(v []any) (string, error) {
		return hostPolicy(v[0].(string), v[1].(string)+"/"+infra.TreeObjectKey, v[2].(string), v[3].(string), v[4].(string))
	}).(pulumi.StringOutput)
	ha.RolePolicy, err = iam.NewRolePolicy(ctx, "host", &iam.RolePolicyArgs{
		Role:   ha.Role.Name,
		Policy: doc,
	}, opts...)
	return err
}

// newApply re-runs the playbook on the running host when its inputs change:
// an SSM State Manager association of AWS-RunShellScript targeting the
// group's instances. Its commands carry the hashes of the vars and the
// tree, so it is updated, and runs again, exactly when one of them
// changes; pulumi up waits for it to succeed. It needs nothing on the
// operator's machine. The same association runs on every new instance of
// the group, where it finds the inputs already applied at boot.
func (ha *HA) newApply(ctx *pulumi.Context, cfg infra.Config, hs *infra.Homeserver, p *infra.Provisioning, base bootstrap, opts ...pulumi.ResourceOption) error {
	tarball, err := infra.TreeArchive()
	if err != nil {
		return err
	}
	treeSHA := infra.SHA256Hex(tarball)
	varsSHA := pulumi.Unsecret(p.Rendered.Vars.ApplyT(func(v string) string { return infra.SHA256Hex([]byte(v)) })).(pulumi.StringOutput)
	commands := pulumi.All(ha.BootBucket.Bucket, varsSHA).ApplyT(func(v []any) string {
		b := base
		b.Bucket, b.ExpectVarsSHA, b.ExpectTreeSHA, b.AfterCloudInit = v[0].(string), v[1].(string), treeSHA, true
		return b.Script()
	}).(pulumi.StringOutput)
	if ha.Apply, err = ssm.NewAssociation(ctx, "playbook", &ssm.AssociationArgs{
		Name:            pulumi.String("AWS-RunShellScript"),
		AssociationName: pulumi.Sprintf("%s-%s-playbook", ctx.Project(), ctx.Stack()),
		Targets: ssm.AssociationTargetArray{ssm.AssociationTargetArgs{
			Key:    pulumi.String("tag:aws:autoscaling:groupName"),
			Values: pulumi.StringArray{ha.Group.Name},
		}},
		Parameters: pulumi.StringMap{
			"commands":         commands,
			"executionTimeout": pulumi.String(strconv.Itoa(bootstrapTimeout)),
		},
		MaxConcurrency:               pulumi.String("1"),
		MaxErrors:                    pulumi.String("0"),
		ComplianceSeverity:           pulumi.String("HIGH"),
		WaitForSuccessTimeoutSeconds: pulumi.Int(bootstrapTimeout),
		Tags:                         infra.NameTag(ctx, "playbook"),
	}, infra.WithOpts(opts, pulumi.DependsOn([]pulumi.Resource{ha.Group, ha.VarsParameter, ha.RedactParameter, ha.SigningKeyParameter, ha.Tree}),
		// The provider waits for success only when it creates an
		// association: new inputs replace it, so pulumi up always waits for
		// the run, and deleting first keeps two runs from overlapping.
		pulumi.ReplaceOnChanges([]string{"parameters"}), pulumi.DeleteBeforeReplace(true))...); err != nil {
		return err
	}
	if !cfg.Verify {
		return nil
	}
	after := []pulumi.Resource{ha.Apply}
	for _, r := range hs.Records {
		after = append(after, r)
	}
	// The ALB's addresses change, so there is no address to expect: verify
	// checks that the names resolve, then TLS, federation and a login.
	ha.Verify, err = infra.NewVerify(ctx, cfg, nil, p.AdminPassword.Result, after,
		infra.ContentHash(varsSHA, pulumi.String(treeSHA), p.AdminPassword.Result), opts...)
	p.Verify = ha.Verify
	return err
}

// renderHAVars renders vars.yml for the ha topology, and the same with the
// secrets masked, which waits only for the database's address and the
// bucket's name.
func renderHAVars(cfg infra.Config, facts infra.Facts, pin ansible.Pin, ha *HA, p *infra.Provisioning, relay *infra.Relay) (vars, masked pulumi.StringOutput) {
	base := infra.InventorySettings(cfg, pin)
	base.Email = relay.Vars()
	user, password := relay.Credentials()
	base.TURN, base.ElementCall = false, false // refused in ha by ParseConfig; never rendered
	haSettings := func(host, bucket string) *inventory.HASettings {
		return &inventory.HASettings{
			DatabaseHost: host, DatabaseUser: infra.DatabaseUser, DatabaseName: infra.DatabaseName,
			MediaBucket: bucket, MediaRegion: cfg.Region, MediaEndpoint: S3Endpoint(cfg.Region, facts.DNSSuffix),
			WebPort: infra.TraefikWebPort, FederationPort: infra.TraefikFederationPort, HealthPort: infra.TraefikHealthPort,
			TrustedCIDR: trustedProxies(cfg).String(),
		}
	}
	masPassword := pulumi.String("").ToStringOutput()
	if ha.MASDBPassword != nil {
		masPassword = ha.MASDBPassword.Result
	}
	vars = pulumi.All(ha.Database.Address, ha.MediaBucket.Bucket, p.GenericSecretKey.Result, p.PostgresPassword.Result,
		ha.DBPassword.Result, p.AdminPassword.Result, user, password, p.MAS.Settings(), masPassword).ApplyT(func(v []any) (string, error) {
		s := base
		s.HA = haSettings(v[0].(string), v[1].(string))
		s.GenericSecretKey, s.PostgresPassword, s.HA.DatabasePassword, s.AdminPassword = v[2].(string), v[3].(string), v[4].(string), v[5].(string)
		s.Email = infra.WithCredentials(base.Email, v[6].(string), v[7].(string))
		s.MAS, _ = v[8].(*inventory.MASSettings) // nil when MAS is off
		s.HA.MASDatabasePassword = v[9].(string)
		rv, err := inventory.NewVars(s)
		if err != nil {
			return "", err
		}
		return rv.YAML()
	}).(pulumi.StringOutput)
	masked = pulumi.All(ha.Database.Address, ha.MediaBucket.Bucket).ApplyT(func(v []any) (string, error) {
		s := base
		s.HA = haSettings(v[0].(string), v[1].(string))
		s.MAS = p.MAS.Masked()
		rv, err := inventory.MaskedVars(s)
		if err != nil {
			return "", err
		}
		return rv.YAML()
	}).(pulumi.StringOutput)
	return vars, masked
}

// S3Endpoint is the regional S3 endpoint in the region's partition: the
// DNS suffix differs outside the aws partition (amazonaws.com.cn in China),
// so it comes from the partition lookup, never a constant.
func S3Endpoint(region, dnsSuffix string) string {
	return "https://s3." + region + "." + dnsSuffix
}
