package kindnetd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// netlinkRoutes is the main routing table through rtnetlink: the three
// messages `ip route replace|del|show` send. Each call uses a socket of
// its own, so calls never read each other's answers.
type netlinkRoutes struct {
	// timeout bounds the wait for the kernel's answer.
	timeout time.Duration
	seq     atomic.Uint32
}

func newNetlinkRoutes() *netlinkRoutes {
	return &netlinkRoutes{timeout: 5 * time.Second}
}

func (t *netlinkRoutes) List(ctx context.Context) ([]route, error) {
	// The kernel restarts nothing: a dump that raced with a change says so
	// (NLM_F_DUMP_INTR), and is asked for again.
	for attempt := 0; ; attempt++ {
		routes, err := t.dump(ctx)
		if errors.Is(err, errDumpInterrupted) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		return routes, nil
	}
}

func (t *netlinkRoutes) Replace(ctx context.Context, r route) error {
	seq := t.seq.Add(1)
	req, err := encodeRouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_REPLACE, seq, r)
	if err != nil {
		return err
	}
	return t.exchange(ctx, req, seq, nil)
}

func (t *netlinkRoutes) Delete(ctx context.Context, r route) error {
	seq := t.seq.Add(1)
	req, err := encodeRouteRequest(unix.RTM_DELROUTE, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, r)
	if err != nil {
		return err
	}
	err = t.exchange(ctx, req, seq, nil)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

var errDumpInterrupted = errors.New("route dump interrupted by a concurrent change")

func (t *netlinkRoutes) dump(ctx context.Context) ([]route, error) {
	seq := t.seq.Add(1)
	var routes []route
	interrupted := false
	err := t.exchange(ctx, encodeRouteDumpRequest(seq), seq, func(m netlinkMessage) error {
		if m.Flags&unix.NLM_F_DUMP_INTR != 0 {
			interrupted = true
		}
		if m.Type != unix.RTM_NEWROUTE {
			return nil
		}
		r, ok, err := decodeRoute(m.Data)
		if err != nil {
			return err
		}
		if ok {
			routes = append(routes, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if interrupted {
		return nil, errDumpInterrupted
	}
	return routes, nil
}

// exchange sends one request and reads the answer to it: an
// acknowledgement, or for a dump the messages up to NLMSG_DONE, each
// handed to onMessage.
func (t *netlinkRoutes) exchange(ctx context.Context, req []byte, seq uint32, onMessage func(netlinkMessage) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	timeout := unix.NsecToTimeval(t.timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &timeout); err != nil {
		return fmt.Errorf("netlink socket timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink socket: %w", err)
	}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send netlink request: %w", err)
	}
	// Dumps come a page or two per datagram (NLMSG_GOODSIZE); this holds
	// any of them whole.
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return fmt.Errorf("receive netlink answer: no answer within %v", t.timeout)
		}
		if err != nil {
			return fmt.Errorf("receive netlink answer: %w", err)
		}
		msgs, err := parseNetlinkMessages(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Seq != seq {
				continue
			}
			switch m.Type {
			case unix.NLMSG_ERROR:
				// An error code of 0 is the acknowledgement.
				return decodeNetlinkError(m.Data)
			case unix.NLMSG_DONE:
				return decodeNetlinkError(m.Data)
			}
			if onMessage == nil {
				continue
			}
			if err := onMessage(m); err != nil {
				return err
			}
		}
	}
}

// netlinkMessage is one message: its header's fields and its payload.
type netlinkMessage struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	Data  []byte
}

// nlmsgAlign rounds a length up to netlink's 4-byte alignment
// (NLMSG_ALIGN, RTA_ALIGN).
func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// Netlink speaks the host's byte order.
var nativeEndian = binary.NativeEndian

// encodeRouteRequest is an RTM_NEWROUTE or RTM_DELROUTE for r in the main
// table, as `ip route replace` and `ip route del` build them: a new route
// is a unicast, universe-scope route of protocol boot; a deletion leaves
// type and protocol open and the scope at nowhere, so that it matches the
// route to Dst via Gateway whatever its type, protocol and scope.
func encodeRouteRequest(msgType, flags uint16, seq uint32, r route) ([]byte, error) {
	if !r.Dst.IsValid() {
		return nil, errors.New("route without destination")
	}
	family := uint8(unix.AF_INET)
	if !r.Dst.Addr().Is4() {
		family = unix.AF_INET6
	}
	if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
		return nil, fmt.Errorf("route %s: gateway of another address family", r)
	}
	rt := unix.RtMsg{
		Family:  family,
		Dst_len: uint8(r.Dst.Bits()),
		Table:   unix.RT_TABLE_MAIN,
	}
	if msgType == unix.RTM_NEWROUTE {
		rt.Protocol = unix.RTPROT_BOOT
		rt.Scope = unix.RT_SCOPE_UNIVERSE
		rt.Type = unix.RTN_UNICAST
	} else {
		rt.Scope = unix.RT_SCOPE_NOWHERE
	}
	b := make([]byte, unix.SizeofNlMsghdr, 64)
	b = append(b, rt.Family, rt.Dst_len, rt.Src_len, rt.Tos, rt.Table, rt.Protocol, rt.Scope, rt.Type)
	b = nativeEndian.AppendUint32(b, rt.Flags)
	b = appendAttr(b, unix.RTA_DST, r.Dst.Masked().Addr().AsSlice())
	if r.Gateway.IsValid() {
		b = appendAttr(b, unix.RTA_GATEWAY, r.Gateway.AsSlice())
	}
	if r.LinkIndex > 0 {
		b = appendAttr(b, unix.RTA_OIF, nativeEndian.AppendUint32(nil, uint32(r.LinkIndex)))
	}
	putHeader(b, msgType, flags, seq)
	return b, nil
}

// encodeRouteDumpRequest asks for every route of every family.
func encodeRouteDumpRequest(seq uint32) []byte {
	b := make([]byte, unix.SizeofNlMsghdr+unix.SizeofRtMsg)
	b[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	putHeader(b, unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
	return b
}

// putHeader fills in the nlmsghdr at the start of b, whose length is the
// whole message; the port is left 0, for the kernel to fill in.
func putHeader(b []byte, msgType, flags uint16, seq uint32) {
	nativeEndian.PutUint32(b[0:4], uint32(len(b)))
	nativeEndian.PutUint16(b[4:6], msgType)
	nativeEndian.PutUint16(b[6:8], flags)
	nativeEndian.PutUint32(b[8:12], seq)
	nativeEndian.PutUint32(b[12:16], 0)
}

// appendAttr appends one rtattr, padded to the alignment.
func appendAttr(b []byte, attrType uint16, data []byte) []byte {
	b = nativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = nativeEndian.AppendUint16(b, attrType)
	b = append(b, data...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// parseNetlinkMessages splits one datagram into its messages.
func parseNetlinkMessages(b []byte) ([]netlinkMessage, error) {
	var out []netlinkMessage
	for len(b) >= unix.SizeofNlMsghdr {
		length := int(nativeEndian.Uint32(b[0:4]))
		if length < unix.SizeofNlMsghdr || length > len(b) {
			return nil, fmt.Errorf("netlink message of length %d in %d bytes", length, len(b))
		}
		out = append(out, netlinkMessage{
			Type:  nativeEndian.Uint16(b[4:6]),
			Flags: nativeEndian.Uint16(b[6:8]),
			Seq:   nativeEndian.Uint32(b[8:12]),
			Data:  b[unix.SizeofNlMsghdr:length],
		})
		b = b[min(nlmsgAlign(length), len(b)):]
	}
	return out, nil
}

// decodeNetlinkError reads the error code of an NLMSG_ERROR or
// NLMSG_DONE payload: 0 (or no code, from older kernels' NLMSG_DONE) is
// success, anything else the negated errno.
func decodeNetlinkError(data []byte) error {
	if len(data) < 4 {
		return nil
	}
	if code := int32(nativeEndian.Uint32(data[0:4])); code < 0 {
		return unix.Errno(-code)
	}
	return nil
}

// decodeRoute reads an RTM_NEWROUTE payload. Only unicast routes of the
// main table are kept (ok); the others (local, broadcast, other tables)
// are none of kindnetd's business.
func decodeRoute(data []byte) (r route, ok bool, err error) {
	if len(data) < unix.SizeofRtMsg {
		return route{}, false, fmt.Errorf("route message of %d bytes", len(data))
	}
	family, dstLen, table, routeType := data[0], int(data[1]), uint32(data[4]), data[7]
	var dst, gw netip.Addr
	attrs := data[unix.SizeofRtMsg:]
	for len(attrs) >= unix.SizeofRtAttr {
		length := int(nativeEndian.Uint16(attrs[0:2]))
		if length < unix.SizeofRtAttr || length > len(attrs) {
			return route{}, false, fmt.Errorf("route attribute of length %d in %d bytes", length, len(attrs))
		}
		value := attrs[unix.SizeofRtAttr:length]
		switch nativeEndian.Uint16(attrs[2:4]) {
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(value)
		case unix.RTA_GATEWAY:
			gw, _ = netip.AddrFromSlice(value)
		case unix.RTA_OIF:
			if len(value) >= 4 {
				r.LinkIndex = int(nativeEndian.Uint32(value))
			}
		case unix.RTA_TABLE:
			if len(value) >= 4 {
				table = nativeEndian.Uint32(value)
			}
		}
		attrs = attrs[min(nlmsgAlign(length), len(attrs)):]
	}
	if table != unix.RT_TABLE_MAIN || routeType != unix.RTN_UNICAST {
		return route{}, false, nil
	}
	switch {
	case dst.IsValid():
	case family == unix.AF_INET:
		dst = netip.IPv4Unspecified()
	case family == unix.AF_INET6:
		dst = netip.IPv6Unspecified()
	default:
		return route{}, false, nil
	}
	if r.Dst, err = dst.Prefix(dstLen); err != nil {
		return route{}, false, fmt.Errorf("route destination %s/%d: %w", dst, dstLen, err)
	}
	r.Gateway = gw
	return r, true, nil
}
