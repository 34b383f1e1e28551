package meshtest

import (
	"fmt"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// checkACL verifies a request's signature as PlainPermissionManager.validate does
// and returns the SYSTEM_ERROR answer 4.9.8 gives on failure, or nil.
func (b *Broker) checkACL(req *remoting.Command) *remoting.Command {
	ak, sk := b.c.opts.accessKey, b.c.opts.secretKey
	if ak == "" && sk == "" {
		return nil
	}
	got := req.ExtFields[remoting.ExtAccessKey]
	switch {
	case req.ExtFields == nil || got == "":
		return remoting.NewResponse(req, remoting.SystemError, remarkACLNoAccessKey)
	case got != ak:
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkACLNoConfig, got))
	}
	if req.ExtFields[remoting.ExtSignature] != remoting.ACLSignature(req.ExtFields, req.Body, sk) {
		return remoting.NewResponse(req, remoting.SystemError, RemarkACLSignature(got))
	}
	return nil
}
