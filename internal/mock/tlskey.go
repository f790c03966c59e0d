package mock

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// tlsKey answers tls:index/privateKey:PrivateKey as pulumi-tls v5 does:
// algorithm is required; ED25519 keys also have their OpenSSH forms; RSA
// (rsaBits, default 2048) and ECDSA (ecdsaCurve, default P224) keys come
// in PEM and PKCS#8 PEM, the private forms secret. Keys are real and
// derived from the resource's identity, so runs are reproducible.
func tlsKey(in resource.PropertyMap, h func(int) string) (string, resource.PropertyMap, error) {
	secret := func(s string) resource.PropertyValue { return resource.MakeSecret(resource.NewStringProperty(s)) }
	var der, pkcs8 []byte
	var pemType string
	switch alg := str(in, "algorithm"); alg {
	case "ED25519":
		id, out := sshKey(h)
		return id, out, nil
	case "RSA":
		bits := num(in, "rsaBits")
		if bits == 0 {
			bits = 2048
		}
		key, err := deterministicRSA(h(64), bits)
		if err != nil {
			return "", nil, err
		}
		der, pemType = x509.MarshalPKCS1PrivateKey(key), "RSA PRIVATE KEY"
		if pkcs8, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return "", nil, err
		}
	case "ECDSA":
		curves := map[string]ecdh.Curve{"P256": ecdh.P256(), "P384": ecdh.P384(), "P521": ecdh.P521()}
		curveName := str(in, "ecdsaCurve")
		curve, ok := curves[curveName]
		if !ok {
			return "", nil, fmt.Errorf("tls: ecdsaCurve %q is not one the mock supports (P256, P384, P521)", curveName)
		}
		seed := sha256.Sum256([]byte(h(64)))
		key, err := curve.NewPrivateKey(scalar(seed[:], curveName))
		if err != nil {
			return "", nil, err
		}
		if pkcs8, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return "", nil, err
		}
		// The SEC 1 form goes through crypto/ecdsa, which x509 parses back.
		parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
		if err != nil {
			return "", nil, err
		}
		if der, err = x509.MarshalECPrivateKey(parsed.(*ecdsa.PrivateKey)); err != nil {
			return "", nil, err
		}
		pemType = "EC PRIVATE KEY"
	default:
		return "", nil, fmt.Errorf("tls: algorithm %q: want RSA, ECDSA or ED25519", alg)
	}
	return h(40), resource.PropertyMap{
		"privateKeyPem":      secret(string(pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}))),
		"privateKeyPemPkcs8": secret(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))),
	}, nil
}

// scalar stretches a seed to the length of a curve's private scalar. A
// value at or above the group order, which ecdh refuses, is as likely as
// a hash collision; P-521's top byte holds one bit.
func scalar(seed []byte, curve string) []byte {
	n := map[string]int{"P256": 32, "P384": 48, "P521": 66}[curve]
	out := make([]byte, 0, n+sha256.Size)
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256(append(seed, byte(i)))
		out = append(out, sum[:]...)
	}
	out = out[:n]
	if curve == "P521" {
		out[0] &= 0x01
	}
	return out
}

// deterministicRSA makes an RSA key from a seed: Go's rsa.GenerateKey
// ignores the reader it is given, which the mock needs reproducible.
func deterministicRSA(seed string, bits int) (*rsa.PrivateKey, error) {
	prime := func(label string) *big.Int {
		buf := make([]byte, 0, bits/16)
		for i := 0; len(buf) < bits/16; i++ {
			sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", seed, label, i)))
			buf = append(buf, sum[:]...)
		}
		buf = buf[:bits/16]
		buf[0] |= 0xc0 // two top bits: the product has exactly bits bits
		p := new(big.Int).SetBytes(buf)
		p.SetBit(p, 0, 1)
		for !p.ProbablyPrime(20) {
			p.Add(p, big.NewInt(2))
		}
		return p
	}
	p, q := prime("p"), prime("q")
	e := big.NewInt(65537)
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return nil, fmt.Errorf("tls: seed %s gives no RSA key", seed[:8])
	}
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, D: d, Primes: []*big.Int{p, q}}
	key.Precompute()
	return key, key.Validate()
}
