package infra

import (
	"fmt"
	"regexp"
	"strings"
)

// Arch is a CPU architecture as EC2 and Ubuntu's image names spell it.
type Arch string

const (
	ArchX86 Arch = "x86_64"
	ArchARM Arch = "arm64"
)

// ubuntuName is the architecture as it appears in Canonical's AMI names.
func (a Arch) ubuntuName() string {
	if a == ArchARM {
		return "arm64"
	}
	return "amd64"
}

// minMemoryMiB is the playbook's documented minimum ("2 GB RAM").
const minMemoryMiB = 2048

// smallTypes are the current-generation and legacy EC2 types with less than
// 2 GiB of memory, in MiB, from the EC2 instance type tables
// (https://aws.amazon.com/ec2/instance-types/). Every other type has 2 GiB or
// more, so this list is what the minimum rules out.
var smallTypes = map[string]int{
	"t1.micro": 627, "t2.nano": 512, "t2.micro": 1024,
	"t3.nano": 512, "t3.micro": 1024, "t3a.nano": 512, "t3a.micro": 1024,
	"t4g.nano": 512, "t4g.micro": 1024, "m1.small": 1740, "c1.medium": 1740,
}

// instanceTypePattern splits a type into class, generation, attributes and
// size, e.g. "m7gd.large" -> "m", "7", "gd", "large".
var instanceTypePattern = regexp.MustCompile(`^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9-]+)$`)

// classifyInstanceType returns the architecture of an instance type, or a
// message saying why the type cannot run the homeserver.
func classifyInstanceType(t string) (Arch, string) {
	m := instanceTypePattern.FindStringSubmatch(t)
	if m == nil {
		return "", "is not an EC2 instance type such as t3.small"
	}
	if mib, ok := smallTypes[t]; ok {
		return "", fmt.Sprintf("has %.1f GiB of memory; the playbook needs at least %d GiB (Synapse, PostgreSQL and Traefik share the host): use t3.small or larger, or t4g.small for arm64", float64(mib)/1024, minMemoryMiB/1024)
	}
	if m[1] == "mac" {
		return "", "is a macOS host; the playbook needs Linux on x86_64 or arm64"
	}
	// Graviton families carry a "g" among their attribute letters (t4g,
	// m7gd, c6gn); a1 is the first generation.
	if m[1]+m[2] == "a1" || strings.Contains(m[3], "g") {
		return ArchARM, ""
	}
	return ArchX86, ""
}
