package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Interceptor is one link of the relay's chain. It sees every request a client
// sends to a broker, may read and change it, and calls next to pass it on; the
// request is forwarded when the innermost link returns. An error ends the
// request: the client gets an error response whose remark is the error's text
// (and whose code is a [*ResponseError]'s, SYSTEM_ERROR otherwise), unless the
// request was oneway.
//
// The chain is built once, when the relay starts, nil entries skipped, the
// first interceptor outermost:
//
//	client ──► WithInterceptors[0] ──► … ──► affinity ──► routing ──► bname ──► acl ──► forward ──► broker
//	           (e.g. tracing)                 pins end-tx   picks the     adds the   re-signs     writes the
//	                                          and check-    broker and    broker's   what the     frame to its
//	                                          backs         endpoint      name       relay edited upstream
//
// Responses do not pass through the chain; an interceptor that needs the
// response registers [Request.OnResponse]. The routing link may pass a request
// on more than once, when a target cannot be reached and the request may go
// elsewhere: an interceptor outside it learns of every target tried through
// [Request.OnAttempt]. Interceptors run on the client connection's reading
// goroutine, one request at a time: they must not block, and must not keep c
// after they return.
type Interceptor func(ctx context.Context, c *Request, next Invoker) error

// Invoker passes a request to the rest of the chain.
type Invoker func(ctx context.Context, c *Request) error

// chain builds the invoker that runs the interceptors, the first outermost,
// around last.
func chain(interceptors []Interceptor, last Invoker) Invoker {
	next := last
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic := interceptors[i]
		if ic == nil {
			continue
		}
		inner := next
		next = func(ctx context.Context, c *Request) error { return ic(ctx, c, inner) }
	}
	return next
}

// ResponseError is an error the relay answers a request with: the response code
// and the remark the client sees.
type ResponseError struct {
	Code   int32
	Remark string
}

// Error returns the remark.
func (e *ResponseError) Error() string { return e.Remark }

// responseFor is the code and remark of the error response for err.
func responseFor(err error) (int32, string) {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Code, err.Error()
	}
	var ue *unreachableError
	if errors.As(err, &ue) {
		return remoting.ServiceNotAvailable, err.Error()
	}
	return remoting.SystemError, err.Error()
}

// maxEdits bounds the extFields one request's links change (queueId, bname,
// and the ACL fields are the relay's own).
const maxEdits = 6

// Request is one request passing through the chain. The relay fills it in before
// the chain runs; links read the request through its methods, set Target, and
// record their changes with SetExt. It is reused for the connection's next
// request once the chain returns.
type Request struct {
	// Code is the request code.
	Code int32
	// Endpoint is the virtual broker endpoint the client addressed.
	Endpoint Endpoint
	// Target is where the request goes: set by the routing link, read by the
	// links after it.
	Target Target
	// Pin, when set by a link before the routing link, is the broker the
	// request must go to (its master), whatever the client addressed.
	Pin string

	d          *downstream
	view       *remoting.FrameView
	q          *Query     // the routing question, the connection's (or the retry's) own
	bufs       *frameBufs // buffers of the goroutine running the chain
	retry      *sendRetry // a send the relay may try again; nil otherwise
	retryHeld  bool       // the chain still owns retry (no upstream took it)
	flushNow   bool       // flush upstream writes at once (off the reading goroutine)
	topic      string
	txKey      string // a redirected transactional send's message key
	signer     string // the access key the client signed with, once signerRead
	signerRead bool
	edits      [maxEdits]remoting.ExtEdit
	nedits     int
	replaced   []byte // a whole new frame, when a link rewrote more than fields
	onResponse func(resp *remoting.FrameView)
	attempt    int // targets the routing link chose so far
	onAttempt  func(attempt int, t Target, prev error)
}

// Endpoint names a virtual broker endpoint: one (brokerName, brokerId) of the
// routes the client was given.
type Endpoint struct {
	BrokerName string
	BrokerID   int64
}

// String returns "broker-a/0".
func (e Endpoint) String() string { return fmt.Sprintf("%s/%d", e.BrokerName, e.BrokerID) }

// Opaque returns the request's opaque.
func (c *Request) Opaque() int32 { return c.view.Opaque() }

// Oneway reports whether the request expects no response.
func (c *Request) Oneway() bool { return c.view.IsOneway() }

// Topic returns the request's topic ("" when its code carries none the relay
// routes on).
func (c *Request) Topic() string { return c.topic }

// Ext returns the current value of an extFields key, edits included. It
// allocates the string.
func (c *Request) Ext(key string) (string, bool) {
	for i := c.nedits - 1; i >= 0; i-- {
		if c.edits[i].Key == key {
			return c.edits[i].Value, true
		}
	}
	return c.view.Ext(key)
}

// HasExt reports whether the request has an extFields key, edits included.
func (c *Request) HasExt(key string) bool {
	for i := 0; i < c.nedits; i++ {
		if c.edits[i].Key == key {
			return true
		}
	}
	return c.view.HasExt(key)
}

// SetExt sets an extFields key: the value is replaced, or the pair added. It
// returns an error when the call already holds the most edits a request can
// carry.
func (c *Request) SetExt(key, value string) error {
	for i := 0; i < c.nedits; i++ {
		if c.edits[i].Key == key {
			c.edits[i].Value = value
			return nil
		}
	}
	if c.nedits == maxEdits {
		return fmt.Errorf("transport: relay: more than %d header edits on one request", maxEdits)
	}
	c.edits[c.nedits] = remoting.ExtEdit{Key: key, Value: value}
	c.nedits++
	return nil
}

// Modified reports whether a link changed the request.
func (c *Request) Modified() bool { return c.nedits > 0 || c.replaced != nil }

// Body returns the request's body; links must not change it.
func (c *Request) Body() []byte { return c.view.Body() }

// OnResponse registers fn to be called with the response, on the goroutine
// reading the broker's connection, before the response goes to the client. fn
// must not block or keep resp. A later registration replaces an earlier one.
//
// fn is called once for a request the relay forwarded and awaits an answer to
// ([Request.AwaitsResponse]): with the broker's answer, or with the error
// answer the relay sends the client in its place when the broker's connection
// closes first. It is not called when the chain returned an error (the
// request was not forwarded; the client gets that error) or when the request
// awaits no answer.
func (c *Request) OnResponse(fn func(resp *remoting.FrameView)) { c.onResponse = fn }

// OnAttempt registers fn to be called each time the routing link has chosen a
// target for the request, before it passes the request on: attempt counts
// from 1, and prev is why the previous attempt's target could not take the
// request (nil for the first). fn runs on the chain's goroutine and must not
// block. A later registration replaces an earlier one.
func (c *Request) OnAttempt(fn func(attempt int, t Target, prev error)) { c.onAttempt = fn }

// Attempt returns how many targets the routing link has chosen for the
// request so far: 0 before it ran, 1 once it decided, more after the request
// moved on from targets that could not be reached. Read after next returns,
// Attempt() - 1 is the number of failovers.
func (c *Request) Attempt() int { return c.attempt }

// AwaitsResponse reports whether a broker answers the request, so that the
// relay waits for the answer and calls the [Request.OnResponse] hook: every
// request but oneway ones and END_TRANSACTION with the unknown state.
func (c *Request) AwaitsResponse() bool { return tracked(c) }

// MessageProperties returns the message properties of a send in their wire
// form ("name\x01value\x02…"): the header's, or for a batch the first
// member's (the batch's header carries none of the messages'). It returns ""
// for other requests and for a batch body that cannot be read, and allocates
// the string: links call it only when they need a property.
func (c *Request) MessageProperties() string {
	switch c.Code {
	case remoting.CodeSendBatchMessage:
		props, err := remoting.FirstBatchProperties(c.view.Body())
		if err != nil {
			return ""
		}
		return string(props)
	case remoting.CodeSendMessage, remoting.CodeSendMessageV2, remoting.CodeSendReplyMessage, remoting.CodeSendReplyMessageV2:
		props, _ := c.view.Ext(sendField(c.Code, "properties", "i"))
		return props
	}
	return ""
}

// editsMark returns the number of edits, for undoing the ones made after it.
func (c *Request) editsMark() int { return c.nedits }

// undoEdits drops the edits made after mark, and any rewritten frame.
func (c *Request) undoEdits(mark int) {
	for i := mark; i < c.nedits; i++ {
		c.edits[i] = remoting.ExtEdit{}
	}
	c.nedits = mark
	c.replaced = nil
}

// reset prepares c for the next request read into view; the connection, the
// query and the buffers stay.
func (c *Request) reset(view *remoting.FrameView, ep Endpoint) {
	*c = Request{Code: view.Code(), Endpoint: ep, d: c.d, view: view, q: c.q, bufs: c.bufs}
}

// frameBufs are the buffers a goroutine builds frames in: the connection's
// reading goroutine has one set, the goroutine retrying its sends another.
type frameBufs struct {
	scratch []byte // edited requests
	copy    []byte // heartbeat copies
}
