package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// bufferSize is the read and write buffer of every relayed connection. Frames
// that fit are relayed from the read buffer without a copy of their own; the
// official client's sends of 1 KiB to 4 MiB mostly do.
const bufferSize = 64 << 10

// maxKeptFrameBuffer bounds the buffer a connection keeps for frames larger
// than its read buffer; a larger one is allocated per frame and dropped.
const maxKeptFrameBuffer = 1 << 20

// readFrame returns the next whole frame, length field included. When the frame
// fits br's buffer it aliases that buffer (peeked is true) and stays valid until
// the caller discards it; otherwise it is read into *big.
func readFrame(br *bufio.Reader, big *[]byte) (frame []byte, peeked bool, err error) {
	h, err := br.Peek(4)
	if err != nil {
		if len(h) == 0 && errors.Is(err, io.EOF) {
			return nil, false, io.EOF
		}
		return nil, false, fmt.Errorf("remoting: reading frame length: %w: %w", remoting.ErrTruncated, err)
	}
	n := int64(int32(binary.BigEndian.Uint32(h)))
	switch {
	case n < 4:
		return nil, false, fmt.Errorf("remoting: frame length %d is below the 4-byte minimum: %w", n, remoting.ErrBadLength)
	case n > remoting.DefaultMaxFrameSize:
		return nil, false, fmt.Errorf("remoting: frame length %d exceeds the maximum %d: %w", n, remoting.DefaultMaxFrameSize, remoting.ErrFrameTooLarge)
	}
	total := 4 + int(n)
	if total <= br.Size() {
		f, err := br.Peek(total)
		if err != nil {
			return nil, false, fmt.Errorf("remoting: reading %d-byte frame: %w: %w", n, remoting.ErrTruncated, err)
		}
		return f, true, nil
	}
	// The buffer grows with what arrives, at most doubling, so a peer that
	// announces a 16 MiB frame and sends a few bytes costs a few bytes.
	buf := (*big)[:0]
	for len(buf) < total {
		step := min(total-len(buf), max(len(buf), br.Size()))
		buf = slices.Grow(buf, step)
		have := len(buf)
		buf = buf[:have+step]
		if _, err := io.ReadFull(br, buf[have:]); err != nil {
			return nil, false, fmt.Errorf("remoting: reading %d-byte frame: %w: %w", n, remoting.ErrTruncated, err)
		}
	}
	if cap(buf) <= maxKeptFrameBuffer {
		*big = buf
	} else {
		*big = nil
	}
	return buf, false, nil
}

// frameBuffered reports whether br holds a whole frame already. Writers flush
// only when it does not, so a burst of frames read in one system call leaves in
// one too, and nothing waits behind a read that may block.
func frameBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n < 4 {
		return false
	}
	h, _ := br.Peek(4)
	l := int64(int32(binary.BigEndian.Uint32(h)))
	return l >= 0 && int64(n) >= 4+l
}

// withOpaque appends frame with its opaque replaced to dst.
func withOpaque(dst, frame []byte, opaque int32) ([]byte, error) {
	var v remoting.FrameView
	if err := v.Reset(frame); err != nil {
		return dst, err
	}
	return v.AppendEdited(dst, opaque, nil)
}

// errorResponse encodes the error response to a request with the given opaque
// and serialize type.
func errorResponse(opaque int32, st remoting.SerializeType, code int32, remark string) []byte {
	resp := remoting.NewResponse(&remoting.Command{Opaque: opaque, SerializeType: st}, code, remark)
	frame, err := resp.EncodeFrame()
	if err != nil {
		// A remark cannot fail to encode in either header form; keep the
		// client's answer even so.
		resp.Remark = "rmqmesh relay: error"
		frame, _ = resp.EncodeFrame()
	}
	return frame
}
