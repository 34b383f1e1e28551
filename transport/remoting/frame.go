package remoting

import (
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultMaxFrameSize is Apache RocketMQ's default limit on a frame's length field
// (com.rocketmq.remoting.frameMaxLength).
const DefaultMaxFrameSize = 16 << 20

// ReadCommand reads one frame from r and decodes it. A frame whose length field
// exceeds maxFrameSize (<= 0 means [DefaultMaxFrameSize]) is rejected before its
// payload is read, with an error wrapping [ErrFrameTooLarge]; the stream is then
// unusable, as it is for Apache RocketMQ, which closes the connection.
//
// io.EOF is returned unwrapped when r ends cleanly before a frame starts.
func ReadCommand(r io.Reader, maxFrameSize int) (*Command, error) {
	payload, err := ReadFrame(r, maxFrameSize)
	if err != nil {
		return nil, err
	}
	return DecodePayload(payload)
}

// ReadFrame reads one frame from r and returns its payload: everything after the
// length field.
func ReadFrame(r io.Reader, maxFrameSize int) ([]byte, error) {
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("remoting: reading frame length: %w: %w", ErrTruncated, err)
	}
	n := int64(int32(binary.BigEndian.Uint32(lenBuf[:])))
	if n < 4 {
		return nil, fmt.Errorf("remoting: frame length %d is below the 4-byte minimum: %w", n, ErrBadLength)
	}
	if n > int64(maxFrameSize) {
		return nil, fmt.Errorf("remoting: frame length %d exceeds the maximum %d: %w", n, maxFrameSize, ErrFrameTooLarge)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("remoting: reading %d-byte frame: %w: %w", n, ErrTruncated, err)
	}
	return payload, nil
}

// DecodeFrame decodes a whole frame, length field included. Trailing bytes after the
// announced length are an error.
func DecodeFrame(frame []byte) (*Command, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("remoting: frame of %d bytes has no length field: %w", len(frame), ErrTruncated)
	}
	n := int64(int32(binary.BigEndian.Uint32(frame)))
	switch {
	case n < 4:
		return nil, fmt.Errorf("remoting: frame length %d is below the 4-byte minimum: %w", n, ErrBadLength)
	case n > int64(len(frame)-4):
		return nil, fmt.Errorf("remoting: frame length %d but only %d bytes follow: %w", n, len(frame)-4, ErrTruncated)
	case n < int64(len(frame)-4):
		return nil, fmt.Errorf("remoting: frame length %d but %d bytes follow: %w", n, len(frame)-4, ErrBadLength)
	}
	return DecodePayload(frame[4:])
}

// DecodePayload decodes a frame without its length field. The command's Body aliases
// payload.
func DecodePayload(payload []byte) (*Command, error) {
	if len(payload) < 4 {
		return nil, fmt.Errorf("remoting: payload of %d bytes has no header length: %w", len(payload), ErrTruncated)
	}
	word := binary.BigEndian.Uint32(payload)
	st := SerializeType(word >> 24)
	headerLen := int(word & 0x00FFFFFF)
	if headerLen > len(payload)-4 {
		// The payload is a whole frame, so no more bytes will come: the length is
		// inconsistent rather than early.
		return nil, fmt.Errorf("remoting: header length %d but only %d bytes follow: %w", headerLen, len(payload)-4, ErrBadLength)
	}
	header := payload[4 : 4+headerLen]
	var (
		cmd *Command
		err error
	)
	switch st {
	case SerializeJSON:
		cmd, err = DecodeJSONHeader(header)
	case SerializeRocketMQ:
		cmd, err = DecodeRocketMQHeader(header)
	default:
		return nil, fmt.Errorf("remoting: serialize type byte %d: %w", byte(st), ErrUnknownSerializeType)
	}
	if err != nil {
		return nil, err
	}
	if body := payload[4+headerLen:]; len(body) > 0 {
		cmd.Body = body
	}
	return cmd, nil
}

// AppendFrame appends the encoded frame, length field included, to dst.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.SerializeType {
	case SerializeJSON:
		dst = c.appendJSONHeader(dst)
	case SerializeRocketMQ:
		dst, err = c.appendRocketMQHeader(dst)
	default:
		err = fmt.Errorf("remoting: encoding code %d: serialize type byte %d: %w", c.Code, byte(c.SerializeType), ErrUnknownSerializeType)
	}
	if err != nil {
		return dst[:start], err
	}
	headerLen := len(dst) - start - 8
	if headerLen > 0x00FFFFFF {
		return dst[:start], fmt.Errorf("remoting: encoding code %d: header of %d bytes does not fit 24 bits: %w", c.Code, headerLen, ErrBadLength)
	}
	dst = append(dst, c.Body...)
	total := len(dst) - start - 4
	if int64(total) > 1<<31-1 {
		return dst[:start], fmt.Errorf("remoting: encoding code %d: frame of %d bytes: %w", c.Code, total, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(total))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(headerLen))
	return dst, nil
}

// EncodeFrame returns the encoded frame, length field included.
func (c *Command) EncodeFrame() ([]byte, error) {
	return c.AppendFrame(make([]byte, 0, 256+len(c.Body)))
}

// WriteCommand encodes c and writes it to w in one Write call, so that concurrent
// writers serialised by the caller never interleave partial frames.
func WriteCommand(w io.Writer, c *Command) error {
	frame, err := c.EncodeFrame()
	if err != nil {
		return err
	}
	if _, err := w.Write(frame); err != nil {
		return fmt.Errorf("remoting: writing code %d opaque %d: %w", c.Code, c.Opaque, err)
	}
	return nil
}
