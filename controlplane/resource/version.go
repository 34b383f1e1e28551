package resource

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// deterministic marshals maps (Struct metadata) in key order, so equal
// resources have equal bytes on every replica.
var deterministic = proto.MarshalOptions{Deterministic: true}

// DeterministicAny packs m into an Any with deterministic bytes. anypb.New
// does not promise that: a typed config holding a map would hash differently
// from one run to the next, and replicas would disagree on versions.
func DeterministicAny(m proto.Message) (*anypb.Any, error) {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, deterministic); err != nil {
		return nil, err
	}
	return a, nil
}

// hashLen is how many hex digits of SHA-256 a version keeps: 64 bits make a
// collision between two versions of one resource vanishingly unlikely and
// keep dumps readable.
const hashLen = 16

// Hash returns the content hash of m: the first hex digits of the SHA-256 of
// its deterministic encoding. Equal resources hash equally on every replica.
func Hash(m proto.Message) (string, error) {
	b, err := deterministic.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:hashLen], nil
}

// CombinedVersion returns the version of a collection of resources given
// each one's name and hash: a hash over the pairs in name order, so it
// depends on content only, not on the order of the map or of updates.
func CombinedVersion(hashes map[string]string) string {
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(hashes[n]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:hashLen]
}
