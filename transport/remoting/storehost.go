package remoting

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Offsets in a stored message record (see [DecodeMessages]) up to the born host.
const (
	recSysFlagAt  = 36
	recBornHostAt = 48
	// Fields between the born host and the store host: the store timestamp.
	recStoreTimestampLen = 8
)

// RewriteStoreHosts sets the store host of every record in body, an encoded
// message list (the body of a found PULL_MESSAGE, QUERY_MESSAGE or
// VIEW_MESSAGE_BY_ID answer), to host. Nothing else of a record changes: its
// body checksum covers the body only. It rewrites body in place and returns it
// when every record's store host already has host's size (4 or 16 bytes);
// otherwise it returns a new slice with the records resized and their
// SysFlagStoreHostV6 bit set to match. Errors wrap [ErrBadBody]; body is then
// left as it was.
func RewriteStoreHosts(body []byte, host netip.AddrPort) ([]byte, error) {
	a := host.Addr().Unmap()
	if !a.IsValid() {
		return body, fmt.Errorf("remoting: rewriting store hosts: %v is not an address: %w", host, ErrBadBody)
	}
	v6 := a.Is6()
	var hostBytes [20]byte
	hb := appendHost(hostBytes[:0], netip.AddrPortFrom(a, host.Port()), v6)
	// First pass: find every store host and whether its size differs.
	resize := false
	for off := 0; off < len(body); {
		_, recV6, size, err := storeHostAt(body, off)
		if err != nil {
			return body, err
		}
		if recV6 != v6 {
			resize = true
		}
		off += size
	}
	if !resize {
		for off := 0; off < len(body); {
			at, _, size, _ := storeHostAt(body, off)
			copy(body[at:], hb)
			off += size
		}
		return body, nil
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	for off := 0; off < len(body); {
		at, recV6, size, _ := storeHostAt(body, off)
		old := 8
		if recV6 {
			old = 20
		}
		start := len(out)
		out = append(out, body[off:at]...)
		out = append(out, hb...)
		out = append(out, body[at+old:off+size]...)
		binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start))
		flag := int32(binary.BigEndian.Uint32(out[start+recSysFlagAt:]))
		if v6 {
			flag |= SysFlagStoreHostV6
		} else {
			flag &^= SysFlagStoreHostV6
		}
		binary.BigEndian.PutUint32(out[start+recSysFlagAt:], uint32(flag))
		off += size
	}
	return out, nil
}

// storeHostAt returns where the store host of the record at off lies, whether
// it is an IPv6 one, and the record's size.
func storeHostAt(body []byte, off int) (at int, v6 bool, size int, err error) {
	rest := body[off:]
	if len(rest) < recBornHostAt {
		return 0, false, 0, fmt.Errorf("remoting: message at byte %d: %d bytes left, too few for a record: %w: %w", off, len(rest), ErrBadBody, ErrTruncated)
	}
	size = int(int32(binary.BigEndian.Uint32(rest)))
	if size < recBornHostAt || size > len(rest) {
		return 0, false, 0, fmt.Errorf("remoting: message at byte %d: total size %d with %d bytes left: %w: %w", off, size, len(rest), ErrBadBody, ErrBadLength)
	}
	flag := int32(binary.BigEndian.Uint32(rest[recSysFlagAt:]))
	at = recBornHostAt + 8
	if flag&SysFlagBornHostV6 != 0 {
		at = recBornHostAt + 20
	}
	at += recStoreTimestampLen
	v6 = flag&SysFlagStoreHostV6 != 0
	hostLen := 8
	if v6 {
		hostLen = 20
	}
	if at+hostLen > size {
		return 0, false, 0, fmt.Errorf("remoting: message at byte %d: total size %d ends before its store host: %w: %w", off, size, ErrBadBody, ErrBadLength)
	}
	return off + at, v6, size, nil
}

// RewriteOffsetMsgIDs replaces the store host of every offset message id in
// ids (one id, or a comma-separated list as a batch send answer carries) with
// host, keeping each id's commit log offset. Items that are not offset message
// ids (a reply's "0") are kept as they are. It writes in place and returns ids
// when every id already has host's size; otherwise it returns a new slice.
func RewriteOffsetMsgIDs(ids []byte, host netip.AddrPort) []byte {
	a := host.Addr().Unmap()
	hostHex := 16 // hex digits of IP and port: 8 + 8 for IPv4
	if a.Is6() {
		hostHex = 40
	}
	var raw [20]byte
	var hexed [40]byte
	hb := appendHost(raw[:0], netip.AddrPortFrom(a, host.Port()), a.Is6())
	encodeHexUpper(hexed[:], hb)
	newHost := hexed[:hostHex]
	same := true
	eachMsgID(ids, func(id []byte) {
		if isOffsetMsgID(id) && len(id)-16 != hostHex {
			same = false
		}
	})
	if same {
		eachMsgID(ids, func(id []byte) {
			if isOffsetMsgID(id) {
				copy(id, newHost)
			}
		})
		return ids
	}
	out := make([]byte, 0, len(ids)+len(ids)/2)
	first := true
	eachMsgID(ids, func(id []byte) {
		if !first {
			out = append(out, ',')
		}
		first = false
		if isOffsetMsgID(id) {
			out = append(out, newHost...)
			out = append(out, id[len(id)-16:]...) // the 8-byte commit log offset
		} else {
			out = append(out, id...)
		}
	})
	return out
}

func eachMsgID(ids []byte, fn func(id []byte)) {
	start := 0
	for i := 0; i <= len(ids); i++ {
		if i == len(ids) || ids[i] == ',' {
			fn(ids[start:i])
			start = i + 1
		}
	}
}

func isOffsetMsgID(id []byte) bool {
	if len(id) != 32 && len(id) != 56 {
		return false
	}
	for _, c := range id {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func encodeHexUpper(dst, src []byte) {
	const digits = "0123456789ABCDEF"
	for i, b := range src {
		dst[2*i] = digits[b>>4]
		dst[2*i+1] = digits[b&0xF]
	}
}
