package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Credentials are RocketMQ ACL credentials (an account of the brokers' plain ACL).
// Printed with any fmt verb or logged with log/slog, they show the access key
// only: the secret key and the security token never reach a log.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// redacted stands for a secret in printed credentials.
const redacted = "REDACTED"

// Format prints the credentials with their secrets redacted, whatever the verb.
func (c Credentials) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{AccessKey:%q SecretKey:%s SecurityToken:%s}", c.AccessKey, secretText(c.SecretKey), secretText(c.SecurityToken))
}

// LogValue logs the access key and whether the secrets are set.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKey", c.AccessKey), slog.String("secretKey", secretText(c.SecretKey)), slog.String("securityToken", secretText(c.SecurityToken)))
}

func secretText(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// AddCredentials gives the relay an account to re-sign requests with. When the
// relay changes a signed request (a redirected send's queueId, an added bname),
// it signs it again with the credentials whose access key the request carries;
// a signed request whose access key the relay has no credentials for is not
// changed. Adding an access key again replaces its secret.
func (r *Relay) AddCredentials(c Credentials) error {
	if c.AccessKey == "" || c.SecretKey == "" {
		return errors.New("transport: relay: credentials need an access key and a secret key")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds[c.AccessKey] = c
	return nil
}

// signedBy returns the access key a request is signed with, "" when it is not.
// Several links ask; the header is read once.
func signedBy(c *Request) string {
	if !c.signerRead {
		c.signerRead = true
		if c.view.HasExt(remoting.ExtSignature) {
			c.signer, _ = c.view.Ext(remoting.ExtAccessKey)
		}
	}
	return c.signer
}

// mayEdit reports whether the relay may change c: it is unsigned, or signed with
// credentials the relay has.
func (r *Relay) mayEdit(c *Request) bool {
	ak := signedBy(c)
	if ak == "" {
		return true
	}
	_, ok := r.credentialsFor(ak)
	return ok
}

func (r *Relay) credentialsFor(accessKey string) (Credentials, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.creds[accessKey]
	return c, ok
}

// aclLink signs a request the relay changed again, when it was signed.
func (r *Relay) aclLink(ctx context.Context, c *Request, next Invoker) error {
	if !c.Modified() {
		return next(ctx, c)
	}
	ak := signedBy(c)
	if ak == "" {
		return next(ctx, c)
	}
	creds, ok := r.credentialsFor(ak)
	if !ok {
		// The links before check mayEdit; reaching here is a bug, and an
		// unverifiable request must not leave.
		return fmt.Errorf("rmqmesh relay: %s was changed but is signed by access key %q, which the relay has no credentials for", remoting.RequestCodeName(c.Code), ak)
	}
	cmd, err := remoting.DecodeFrame(c.view.Frame())
	if err != nil {
		return fmt.Errorf("rmqmesh relay: re-signing %s: %w", remoting.RequestCodeName(c.Code), err)
	}
	for _, e := range c.edits[:c.nedits] {
		cmd.SetExt(e.Key, e.Value)
	}
	sign(cmd, creds)
	frame, err := cmd.EncodeFrame()
	if err != nil {
		return fmt.Errorf("rmqmesh relay: re-signing %s: %w", remoting.RequestCodeName(c.Code), err)
	}
	c.replaced = frame
	return next(ctx, c)
}

// sign sets the ACL fields of cmd as the brokers' PlainAccessValidator checks
// them: an HMAC-SHA1 of every extFields value but Signature and
// _UNIQUE_KEY_QUERY, in key order, followed by the body, base64.
func sign(cmd *remoting.Command, c Credentials) {
	cmd.SetExt(remoting.ExtAccessKey, c.AccessKey)
	if c.SecurityToken != "" {
		cmd.SetExt(remoting.ExtSecurityToken, c.SecurityToken)
	}
	cmd.SetExt(remoting.ExtSignature, remoting.ACLSignature(cmd.ExtFields, cmd.Body, c.SecretKey))
}
