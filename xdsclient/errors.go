package xdsclient

import (
	"errors"
	"fmt"
)

// ErrorKind classifies errors delivered to watchers.
type ErrorKind int

// Error kinds.
const (
	// KindUnknown is any error not produced by this package.
	KindUnknown ErrorKind = iota
	// KindResourceNotFound: the server does not have the resource (it was
	// deleted, or did not arrive before the resource timeout while the
	// stream was up).
	KindResourceNotFound
	// KindNACKed: the resource was invalid and rejected.
	KindNACKed
	// KindConnection: no management server could be reached.
	KindConnection
	// KindClosed: the client is closed.
	KindClosed
)

var kindNames = [...]string{"unknown", "resource not found", "nacked", "connection", "closed"}

// String returns the kind in words, e.g. "resource not found".
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is the error type delivered to watchers.
type Error struct {
	Kind ErrorKind
	// TypeURL and Name identify the resource, when known.
	TypeURL, Name string
	// Err is the cause.
	Err error
}

// Error returns "xdsclient: TYPE "NAME": CAUSE", or "xdsclient: CAUSE" when
// no resource is named.
func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("xdsclient: %s %q: %v", shortType(e.TypeURL), e.Name, e.Err)
	}
	return fmt.Sprintf("xdsclient: %v", e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, KindUnknown when err is not an *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// ErrClosed is returned by operations on a closed client.
var ErrClosed = &Error{Kind: KindClosed, Err: errors.New("client is closed")}

func shortType(typeURL string) string {
	for _, rt := range allTypes {
		if rt.typeURL == typeURL {
			return rt.short
		}
	}
	return typeURL
}
