package infra

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
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

// memoryPerVCPUMiB is the memory per vCPU of the EC2 families whose sizes
// follow the standard ladder (large = 2 vCPUs, xlarge = 4, <n>xlarge =
// 4n), from the EC2 instance type tables
// (https://aws.amazon.com/ec2/instance-types/): general purpose m* 4 GiB,
// compute optimized c* 2 GiB, memory optimized r* 8 GiB per vCPU.
var memoryPerVCPUMiB = map[string]int{"m": 4096, "c": 2048, "r": 8192}

// burstableMiB is the memory of the burstable families' sizes (t2, t3,
// t3a, t4g), from the same tables; they do not follow the ladder.
var burstableMiB = map[string]int{
	"nano": 512, "micro": 1024, "small": 2048, "medium": 4096,
	"large": 8192, "xlarge": 16384, "2xlarge": 32768,
}

var ladderSize = regexp.MustCompile(`^(\d*)xlarge$`)

// memoryMiB returns an instance type's memory, when its family is one of
// the regular ones above (ok false otherwise: the program then cannot
// check what fits and leaves it to the operator).
func memoryMiB(t string) (mib int, ok bool) {
	m := instanceTypePattern.FindStringSubmatch(t)
	if m == nil {
		return 0, false
	}
	family, size := m[1], m[4]
	if family == "t" && slices.Contains([]string{"2", "3", "4"}, m[2]) {
		mib, ok = burstableMiB[size]
		return mib, ok
	}
	perVCPU, ok := memoryPerVCPUMiB[family]
	if gen, _ := strconv.Atoi(m[2]); !ok || gen < 4 { // generations before 4 had other ratios
		return 0, false
	}
	vcpus := 0
	switch {
	case size == "medium":
		vcpus = 1
	case size == "large":
		vcpus = 2
	case ladderSize.MatchString(size):
		n := 1
		if d := ladderSize.FindStringSubmatch(size)[1]; d != "" {
			n, _ = strconv.Atoi(d)
		}
		vcpus = 4 * n
	default:
		return 0, false // metal and other sizes vary by family
	}
	return vcpus * perVCPU, true
}

// smallestFitting names the cheapest-to-reach type of the same family and
// generation that has at least need MiB: what the operator moves to.
func smallestFitting(t string, need int) string {
	m := instanceTypePattern.FindStringSubmatch(t)
	if m == nil {
		return ""
	}
	prefix := m[1] + m[2] + m[3] + "."
	for _, size := range []string{"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"} {
		if mib, ok := memoryMiB(prefix + size); ok && mib >= need {
			return prefix + size
		}
	}
	return ""
}
