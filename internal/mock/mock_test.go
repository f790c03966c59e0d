package mock

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// run runs program against c in update mode (pulumi.WithMocks) or preview
// mode (the loopback monitor), the two ways synth runs the program.
func run(t *testing.T, c *Cloud, preview bool, program pulumi.RunFunc) {
	t.Helper()
	var err error
	if preview {
		err = Preview(c, "matrix", "test", program)
	} else {
		err = pulumi.RunErr(program, pulumi.WithMocks("matrix", "test", c))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestResourceOptionsRecorded: both monitors record every option the
// program's tests and policies rely on, and mark known
// additionalSecretOutputs secret as the engine does.
func TestResourceOptionsRecorded(t *testing.T) {
	for _, preview := range []bool{false, true} {
		c := New(nil)
		run(t, c, preview, func(ctx *pulumi.Context) error {
			first, err := local.NewCommand(ctx, "first", &local.CommandArgs{Create: pulumi.String("true")})
			if err != nil {
				return err
			}
			_, err = local.NewCommand(ctx, "second", &local.CommandArgs{Create: pulumi.String("echo hi")},
				pulumi.DependsOn([]pulumi.Resource{first}),
				pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}),
				pulumi.Protect(true), pulumi.RetainOnDelete(true), pulumi.DeleteBeforeReplace(true),
				pulumi.ReplaceOnChanges([]string{"create"}), pulumi.IgnoreChanges([]string{"environment"}))
			return err
		})
		var first, second Resource
		for _, r := range c.Find("command:local:Command") {
			switch r.Name {
			case "first":
				first = r
			case "second":
				second = r
			}
		}
		if !slices.Equal(second.AdditionalSecretOutputs, []string{"stdout", "stderr"}) || !second.Protect || !second.RetainOnDelete ||
			!second.DeleteBeforeReplace || !slices.Contains(second.ReplaceOnChanges, "create") ||
			!slices.Equal(second.IgnoreChanges, []string{"environment"}) || len(second.DependsOn) != 1 || !strings.HasSuffix(second.DependsOn[0], "::first") {
			t.Errorf("preview=%v: options of second not recorded: %+v", preview, second)
		}
		for _, k := range []resource.PropertyKey{"stdout", "stderr"} {
			// A preview's outputs are unknown, and stay plainly unknown.
			if v := second.Outputs[k]; v.IsSecret() == preview || v.IsComputed() != preview {
				t.Errorf("preview=%v: second's %s is %v", preview, k, v)
			}
			if first.Outputs[k].IsSecret() {
				t.Errorf("preview=%v: first's %s is secret without the option", preview, k)
			}
		}
		if first.Protect || first.RetainOnDelete || first.DeleteBeforeReplace || first.AdditionalSecretOutputs != nil {
			t.Errorf("preview=%v: first has options it was not given: %+v", preview, first)
		}
	}
}

func call(c *Cloud, token string, args map[string]any, provider string) (resource.PropertyMap, error) {
	return c.Call(pulumi.MockCallArgs{Token: token, Args: resource.NewPropertyMapFromMap(args), Provider: provider})
}

func filter(name string, values ...any) map[string]any {
	return map[string]any{"name": name, "values": values}
}

// withProvider registers an aws provider for region, as the program does,
// and returns its reference.
func withProvider(c *Cloud, region string) string {
	c.record(pulumi.MockResourceArgs{TypeToken: "pulumi:providers:aws", Name: "aws",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"region": region})}, "", nil)
	return "urn:pulumi:test::matrix::pulumi:providers:aws::aws::id"
}

// TestUnknownRegion: AWS has no endpoint for a region that does not exist;
// the provider, which skips region validation, fails on the first call.
func TestUnknownRegion(t *testing.T) {
	c := New(nil)
	p := withProvider(c, "xx-nowhere-9")
	_, err := call(c, "aws:index/getAvailabilityZones:getAvailabilityZones", map[string]any{"state": "available"}, p)
	if err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("zones of xx-nowhere-9: %v", err)
	}
	if _, err := call(c, "aws:index/getPartition:getPartition", nil, p); err != nil {
		t.Errorf("the partition is the provider's own answer: %v", err)
	}
	known := New(nil)
	if _, err := call(known, "aws:index/getAvailabilityZones:getAvailabilityZones", nil, withProvider(known, "eu-central-1")); err != nil {
		t.Errorf("eu-central-1: %v", err)
	}
}

// TestInstanceTypeOfferings: EC2 offers the types it has (here in the
// region's three zones and its Local Zone), and answers a type it does not
// have with no offerings.
func TestInstanceTypeOfferings(t *testing.T) {
	c := New(nil)
	p := withProvider(c, "eu-central-1")
	for typ, want := range map[string]int{"t3.small": 4, "m7g.large": 4, "zz9.banana": 0, "t3.banana": 0, "": 0} {
		out, err := call(c, "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings", map[string]any{
			"locationType": "availability-zone", "filters": []any{filter("instance-type", typ)},
		}, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(out["locations"].ArrayValue()); got != want {
			t.Errorf("%q offered in %d zones, want %d", typ, got, want)
		}
	}
}

// TestImageByID: an AMI is found by ID only in its region, with its
// architecture, as DescribeImages finds it.
func TestImageByID(t *testing.T) {
	c := New(nil)
	eu, us := withProvider(c, "eu-central-1"), "urn:pulumi:test::matrix::pulumi:providers:aws::us::id"
	c.record(pulumi.MockResourceArgs{TypeToken: "pulumi:providers:aws", Name: "us",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"region": "us-east-1"})}, "", nil)
	byID := func(id, provider string) (resource.PropertyMap, error) {
		return call(c, "aws:ec2/getAmi:getAmi", map[string]any{"includeDeprecated": true, "filters": []any{filter("image-id", id)}}, provider)
	}
	if out, err := byID("ami-0fedcba9876543210", eu); err != nil || out["architecture"].StringValue() != "arm64" {
		t.Errorf("pinned arm64 image: %v %v", out, err)
	}
	if _, err := byID("ami-0fedcba9876543210", us); err == nil {
		t.Error("an eu-central-1 image was found in us-east-1")
	}
	if _, err := byID("ami-0bbbbbbbbbbbbbbbb", eu); err == nil {
		t.Error("an image that does not exist was found")
	}
	// Canonical's current image, found by the name query, is found by ID.
	latest, err := call(c, "aws:ec2/getAmi:getAmi", map[string]any{
		"owners": []any{"099720109477"}, "mostRecent": true,
		"filters": []any{filter("name", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*"), filter("architecture", "arm64")},
	}, us)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := byID(latest["id"].StringValue(), us); err != nil || out["name"].StringValue() != latest["name"].StringValue() {
		t.Errorf("latest image by ID: %v %v", out, err)
	}
}

// TestRDSRestoreInputs: the fake RDS refuses what CreateDBInstance and
// RestoreDBInstanceToPointInTime refuse.
func TestRDSRestoreInputs(t *testing.T) {
	c := New(nil)
	c.SetExisting(Existing{DBs: []ExistingDB{{ID: "matrix-prod"}, {ID: "matrix-nobackups", NoBackups: true}}})
	obj := func(kv ...any) resource.PropertyValue {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return resource.NewObjectProperty(resource.NewPropertyMapFromMap(m))
	}
	base := func(pitr resource.PropertyValue, ident string) resource.PropertyMap {
		in := resource.NewPropertyMapFromMap(map[string]any{"identifier": ident, "engine": "postgres", "instanceClass": "db.t4g.micro"})
		if !pitr.IsNull() {
			in["restoreToPointInTime"] = pitr
		}
		return in
	}
	for _, tc := range []struct {
		name string
		in   resource.PropertyMap
		ok   bool
	}{
		{"create without password", base(resource.NewNullProperty(), "matrix-x"), false},
		{"restore by identifier", base(obj("sourceDbInstanceIdentifier", "matrix-prod", "useLatestRestorableTime", true), "matrix-prod-pitr-1"), true},
		{"restore onto the source", base(obj("sourceDbInstanceIdentifier", "matrix-prod", "useLatestRestorableTime", true), "matrix-prod"), false},
		{"restore of a missing source", base(obj("sourceDbInstanceIdentifier", "matrix-gone", "useLatestRestorableTime", true), "matrix-x"), false},
		{"restore without backups", base(obj("sourceDbInstanceIdentifier", "matrix-nobackups", "useLatestRestorableTime", true), "matrix-x"), false},
		{"two sources", base(obj("sourceDbInstanceIdentifier", "matrix-prod", "sourceDbiResourceId", "db-ABC", "useLatestRestorableTime", true), "matrix-x"), false},
		{"no time", base(obj("sourceDbInstanceIdentifier", "matrix-prod"), "matrix-x"), false},
		{"time and latest", base(obj("sourceDbInstanceIdentifier", "matrix-prod", "restoreTime", "2020-01-01T00:00:00Z", "useLatestRestorableTime", true), "matrix-x"), false},
		{"time outside the window", base(obj("sourceDbInstanceIdentifier", "matrix-prod", "restoreTime", "2020-01-01T00:00:00Z"), "matrix-x"), false},
	} {
		_, _, err := c.NewResource(pulumi.MockResourceArgs{TypeToken: "aws:rds/instance:Instance", Name: "db", Inputs: tc.in, Custom: true})
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
