package remoting

import "errors"

// Sentinel errors for malformed input. Decoders wrap them with the detail of what was
// wrong, so callers branch with [errors.Is] and log the message. Every error the
// package returns starts with "remoting: "; the sentinels' own text has no prefix
// because they are only returned wrapped in such a message, which would otherwise
// carry the prefix twice.
var (
	// ErrTruncated means the input ended before a length it announced.
	ErrTruncated = errors.New("truncated")
	// ErrFrameTooLarge means a frame's length field exceeds the configured maximum.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrBadLength means a length field is negative or inconsistent with its frame.
	ErrBadLength = errors.New("bad length")
	// ErrUnknownSerializeType means the serialize-type byte is neither JSON nor ROCKETMQ.
	ErrUnknownSerializeType = errors.New("unknown serialize type")
	// ErrBadHeader means a header could not be parsed.
	ErrBadHeader = errors.New("bad header")
	// ErrBadField means a typed header field is missing or has the wrong form.
	ErrBadField = errors.New("bad header field")
	// ErrBadBody means a body (route data, messages, JSON bodies) could not be parsed.
	ErrBadBody = errors.New("bad body")
)
