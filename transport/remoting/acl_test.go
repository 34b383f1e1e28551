package remoting_test

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// The value was computed outside Go (HMAC-SHA1 of "AK"+"1"+"orders"+"body"
// with key "SK", base64), as AclUtils orders it: values by key, Signature and
// _UNIQUE_KEY_QUERY left out, the body last.
func TestACLSignature_AsAclUtilsComputesIt(t *testing.T) {
	ext := map[string]string{
		remoting.ExtAccessKey:      "AK",
		"topic":                    "orders",
		"queueId":                  "1",
		remoting.ExtSignature:      "stale",
		remoting.ExtUniqueKeyQuery: "ignored",
	}
	if got, want := remoting.ACLSignature(ext, []byte("body"), "SK"), "6aTLPmKGzu5frW539c/SvRM1zGo="; got != want {
		t.Errorf("ACLSignature = %q, want %q", got, want)
	}
}
