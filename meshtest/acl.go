package meshtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// ACL extFields (SessionCredentials) and the field PlainAccessValidator leaves out.
const (
	extAccessKey      = "AccessKey"
	extSignature      = "Signature"
	extUniqueKeyQuery = "_UNIQUE_KEY_QUERY"
)

// checkACL verifies a request's signature as PlainPermissionManager.validate does
// and returns the SYSTEM_ERROR answer 4.9.8 gives on failure, or nil.
func (b *Broker) checkACL(req *remoting.Command) *remoting.Command {
	ak, sk := b.c.opts.accessKey, b.c.opts.secretKey
	if ak == "" && sk == "" {
		return nil
	}
	got := req.ExtFields[extAccessKey]
	switch {
	case req.ExtFields == nil || got == "":
		return remoting.NewResponse(req, remoting.SystemError, remarkACLNoAccessKey)
	case got != ak:
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkACLNoConfig, got))
	}
	if req.ExtFields[extSignature] != aclSignature(req.ExtFields, req.Body, sk) {
		return remoting.NewResponse(req, remoting.SystemError, RemarkACLSignature(got))
	}
	return nil
}

// aclSignature is AclUtils.calSignature over combineRequestContent: the values of
// every extField but Signature and _UNIQUE_KEY_QUERY in key order, then the body,
// HMAC-SHA1 with the secret key, base64.
func aclSignature(ext map[string]string, body []byte, secretKey string) string {
	keys := make([]string, 0, len(ext))
	for k := range ext {
		if k != extSignature && k != extUniqueKeyQuery {
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
