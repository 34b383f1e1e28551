package remoting

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"sort"
)

// ACL extFields (the client's SessionCredentials) and the one field the
// signature leaves out besides itself.
const (
	ExtAccessKey      = "AccessKey"
	ExtSignature      = "Signature"
	ExtSecurityToken  = "SecurityToken"
	ExtUniqueKeyQuery = "_UNIQUE_KEY_QUERY"
)

// ACLSignature is the signature an ACL-enabled broker expects in a request's
// Signature extField (Java's AclUtils.calSignature over
// combineRequestContent): HMAC-SHA1 with the secret key over the values of
// every extField but Signature and _UNIQUE_KEY_QUERY in key order, then the
// body, base64-encoded. One function serves the relay that re-signs and the
// test broker that verifies, so the two cannot drift apart.
func ACLSignature(ext map[string]string, body []byte, secretKey string) string {
	keys := make([]string, 0, len(ext))
	for k := range ext {
		if k != ExtSignature && k != ExtUniqueKeyQuery {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(secretKey))
	for _, k := range keys {
		mac.Write([]byte(ext[k]))
	}
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
