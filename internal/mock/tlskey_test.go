package mock

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func tlsArgs(name string, in resource.PropertyMap) pulumi.MockResourceArgs {
	return pulumi.MockResourceArgs{TypeToken: "tls:index/privateKey:PrivateKey", Name: name, Inputs: in, Custom: true}
}

// TestTLSKeys: real keys of the requested kind, private forms secret,
// the same for the same resource; a missing algorithm or unsupported
// curve fails as the provider would.
func TestTLSKeys(t *testing.T) {
	c := New(nil)
	for _, tc := range []struct {
		in    resource.PropertyMap
		check func(any) bool
	}{
		{resource.PropertyMap{"algorithm": resource.NewStringProperty("RSA"), "rsaBits": resource.NewNumberProperty(2048)},
			func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }},
		{resource.PropertyMap{"algorithm": resource.NewStringProperty("ECDSA"), "ecdsaCurve": resource.NewStringProperty("P256")},
			func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().Name == "P-256" }},
		{resource.PropertyMap{"algorithm": resource.NewStringProperty("ECDSA"), "ecdsaCurve": resource.NewStringProperty("P384")},
			func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().Name == "P-384" }},
	} {
		name := tc.in["algorithm"].StringValue() + "-key"
		_, out, err := c.NewResource(tlsArgs(name, tc.in))
		if err != nil {
			t.Fatal(err)
		}
		pkcs8 := out["privateKeyPemPkcs8"]
		if !pkcs8.IsSecret() || !out["privateKeyPem"].IsSecret() {
			t.Fatalf("%s: private key outputs are not secret", name)
		}
		block, _ := pem.Decode([]byte(pkcs8.SecretValue().Element.StringValue()))
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil || !tc.check(key) {
			t.Errorf("%s: %T %v", name, key, err)
		}
		_, again, _ := c.NewResource(tlsArgs(name, tc.in))
		if again["privateKeyPemPkcs8"].SecretValue().Element.StringValue() != pkcs8.SecretValue().Element.StringValue() {
			t.Errorf("%s: another key for the same resource", name)
		}
	}
	for _, in := range []resource.PropertyMap{
		{},
		{"algorithm": resource.NewStringProperty("ECDSA"), "ecdsaCurve": resource.NewStringProperty("P224")},
	} {
		if _, _, err := c.NewResource(tlsArgs("bad", in)); err == nil {
			t.Errorf("%v accepted", in)
		}
	}
}
