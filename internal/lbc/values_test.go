package lbc

import (
	"strings"
	"testing"
)

func TestValuesReportsEveryProblem(t *testing.T) {
	_, err := Values(Input{})
	if err == nil {
		t.Fatal("Values(Input{}) succeeded")
	}
	for _, field := range []string{"ClusterName", "Region", "VPCID", "RoleARN", "Replicas"} {
		if !strings.Contains(err.Error(), "\n- "+field+" ") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}

func TestValuesChecksEachField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Input)
		want string // "" when the input is fine
	}{
		{"example", func(*Input) {}, ""},
		{"china", func(in *Input) { in.Region, in.RoleARN = "cn-north-1", "arn:aws-cn:iam::123456789012:role/lbc" }, ""},
		{"govcloud", func(in *Input) {
			in.Region, in.RoleARN = "us-gov-west-1", "arn:aws-us-gov:iam::123456789012:role/path/lbc"
		}, ""},
		{"short vpc id", func(in *Input) { in.VPCID = "vpc-0a1b2c3d" }, ""},
		{"more replicas", func(in *Input) { in.Replicas = 3 }, ""},
		{"cluster name", func(in *Input) { in.ClusterName = "-matrix" }, "ClusterName"},
		{"cluster name too long", func(in *Input) { in.ClusterName = strings.Repeat("m", 101) }, "ClusterName"},
		// The chart passes clusterName through tpl: a template in it
		// would run.
		{"cluster name template", func(in *Input) { in.ClusterName = "{{ .Release.Name }}" }, "ClusterName"},
		{"region", func(in *Input) { in.Region = "Ireland" }, "Region"},
		{"vpc id", func(in *Input) { in.VPCID = "vpc-xyz" }, "VPCID"},
		{"role arn", func(in *Input) { in.RoleARN = "arn:aws:iam::123456789012:user/lbc" }, "RoleARN"},
		{"role partition", func(in *Input) { in.Region = "cn-north-1" }, "RoleARN \"arn:aws:iam::123456789012:role/matrix-prod-lbc\" is in partition aws, but Region cn-north-1 is in aws-cn"},
		{"replicas", func(in *Input) { in.Replicas = 0 }, "Replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := exampleInput()
			tc.edit(&in)
			_, err := Values(in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "- "+tc.want)):
				t.Errorf("error %v, want one about %s", err, tc.want)
			}
		})
	}
}

func exampleInput() Input {
	return Input{
		ClusterName: "matrix-prod",
		Region:      "eu-west-1",
		VPCID:       "vpc-0a1b2c3d4e5f60718",
		RoleARN:     "arn:aws:iam::123456789012:role/matrix-prod-lbc",
		Replicas:    DefaultReplicas,
	}
}
