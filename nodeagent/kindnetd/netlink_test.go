package kindnetd

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// The expected messages are spelled out field by field, in the host's
// byte order, as the kernel reads them.
func u16(v uint16) []byte { return nativeEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return nativeEndian.AppendUint32(nil, v) }

// negated is an errno as netlink carries it: a negative int32.
func negated(errno unix.Errno) []byte {
	code := -int32(errno)
	return u32(uint32(code))
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func nlHeader(length uint32, msgType, flags uint16, seq uint32) []byte {
	return join(u32(length), u16(msgType), u16(flags), u32(seq), u32(0))
}

// rtMsg is struct rtmsg: family, dst_len, src_len, tos, table, protocol,
// scope, type, then flags.
func rtMsg(family, dstLen, table, protocol, scope, routeType uint8) []byte {
	return join([]byte{family, dstLen, 0, 0, table, protocol, scope, routeType}, u32(0))
}

func rtAttr(attrType uint16, data ...byte) []byte {
	b := join(u16(uint16(4+len(data))), u16(attrType), data)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestEncodeRouteRequest(t *testing.T) {
	const replaceFlags = unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	tests := []struct {
		name    string
		msgType uint16
		flags   uint16
		route   route
		want    []byte
	}{
		{
			name:    "ip route replace 10.244.1.0/24 via 172.18.0.3",
			msgType: unix.RTM_NEWROUTE,
			flags:   replaceFlags,
			route:   via("10.244.1.0/24", "172.18.0.3"),
			want: join(
				nlHeader(44, 24, 0x505, 7),
				rtMsg(2, 24, 254, 3, 0, 1), // AF_INET, /24, main, boot, universe, unicast
				rtAttr(1, 10, 244, 1, 0),   // RTA_DST
				rtAttr(5, 172, 18, 0, 3),   // RTA_GATEWAY
			),
		},
		{
			name:    "ip route del 10.244.1.0/24 via 172.18.0.3 matches any type, protocol and scope",
			msgType: unix.RTM_DELROUTE,
			flags:   unix.NLM_F_REQUEST | unix.NLM_F_ACK,
			route:   via("10.244.1.0/24", "172.18.0.3"),
			want: join(
				nlHeader(44, 25, 0x005, 7),
				rtMsg(2, 24, 254, 0, 255, 0), // scope nowhere
				rtAttr(1, 10, 244, 1, 0),
				rtAttr(5, 172, 18, 0, 3),
			),
		},
		{
			name:    "an interface given is RTA_OIF",
			msgType: unix.RTM_NEWROUTE,
			flags:   replaceFlags,
			route:   route{Dst: netip.MustParsePrefix("10.244.1.0/24"), Gateway: netip.MustParseAddr("172.18.0.3"), LinkIndex: 9},
			want: join(
				nlHeader(52, 24, 0x505, 7),
				rtMsg(2, 24, 254, 3, 0, 1),
				rtAttr(1, 10, 244, 1, 0),
				rtAttr(5, 172, 18, 0, 3),
				rtAttr(4, u32(9)...),
			),
		},
		{
			name:    "the destination is masked to its network",
			msgType: unix.RTM_NEWROUTE,
			flags:   replaceFlags,
			route:   route{Dst: netip.MustParsePrefix("10.244.1.77/24"), Gateway: netip.MustParseAddr("172.18.0.3")},
			want: join(
				nlHeader(44, 24, 0x505, 7),
				rtMsg(2, 24, 254, 3, 0, 1),
				rtAttr(1, 10, 244, 1, 0),
				rtAttr(5, 172, 18, 0, 3),
			),
		},
		{
			name:    "IPv6",
			msgType: unix.RTM_NEWROUTE,
			flags:   replaceFlags,
			route:   via("fd00:10:244:1::/64", "fc00::3"),
			want: join(
				nlHeader(68, 24, 0x505, 7),
				rtMsg(10, 64, 254, 3, 0, 1),
				rtAttr(1, 0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
				rtAttr(5, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeRouteRequest(tt.msgType, tt.flags, 7, tt.route)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("message\n% x\nwant\n% x", got, tt.want)
			}
		})
	}
}

func TestEncodeRouteRequestRefusesBadRoutes(t *testing.T) {
	tests := []struct {
		name  string
		route route
	}{
		{"no destination", route{Gateway: netip.MustParseAddr("172.18.0.3")}},
		{"gateway of another family", via("10.244.1.0/24", "fc00::3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := encodeRouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_REQUEST, 1, tt.route); err == nil {
				t.Fatal("encoded a route the kernel would refuse or misread")
			}
		})
	}
}

func TestEncodeRouteDumpRequest(t *testing.T) {
	want := join(nlHeader(28, 26, 0x301, 3), rtMsg(0, 0, 0, 0, 0, 0)) // RTM_GETROUTE, REQUEST|DUMP, AF_UNSPEC
	if got := encodeRouteDumpRequest(3); !bytes.Equal(got, want) {
		t.Errorf("dump request\n% x\nwant\n% x", got, want)
	}
}

func TestParseNetlinkMessages(t *testing.T) {
	// A 21-byte message is padded to 24 before the next one.
	first := join(nlHeader(21, unix.RTM_NEWROUTE, unix.NLM_F_MULTI, 5), []byte{1, 2, 3, 4, 5}, []byte{0, 0, 0})
	done := join(nlHeader(20, unix.NLMSG_DONE, unix.NLM_F_MULTI, 5), u32(0))
	msgs, err := parseNetlinkMessages(join(first, done))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	if m := msgs[0]; m.Type != unix.RTM_NEWROUTE || m.Flags != unix.NLM_F_MULTI || m.Seq != 5 || !bytes.Equal(m.Data, []byte{1, 2, 3, 4, 5}) {
		t.Errorf("first message %+v", m)
	}
	if m := msgs[1]; m.Type != unix.NLMSG_DONE || len(m.Data) != 4 {
		t.Errorf("second message %+v", m)
	}

	t.Run("a length past the datagram is an error", func(t *testing.T) {
		if _, err := parseNetlinkMessages(nlHeader(64, unix.RTM_NEWROUTE, 0, 1)); err == nil {
			t.Fatal("parsed a truncated message")
		}
	})
	t.Run("a length shorter than the header is an error", func(t *testing.T) {
		if _, err := parseNetlinkMessages(nlHeader(8, unix.RTM_NEWROUTE, 0, 1)); err == nil {
			t.Fatal("parsed a message shorter than its header")
		}
	})
}

func TestDecodeNetlinkError(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"an error code of 0 acknowledges", u32(0), nil},
		{"a negative code is the errno", negated(unix.ESRCH), unix.ESRCH},
		{"an older kernel's empty NLMSG_DONE is success", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeNetlinkError(tt.data); !errors.Is(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("error %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeRoute(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		want   route
		wantOK bool
	}{
		{
			name: "a route via a gateway out of an interface",
			data: join(rtMsg(2, 24, 254, 3, 0, 1),
				rtAttr(15, u32(254)...), // RTA_TABLE
				rtAttr(1, 10, 244, 2, 0),
				rtAttr(5, 172, 18, 0, 4),
				rtAttr(4, u32(2)...)),
			want:   route{Dst: netip.MustParsePrefix("10.244.2.0/24"), Gateway: netip.MustParseAddr("172.18.0.4"), LinkIndex: 2},
			wantOK: true,
		},
		{
			name: "the default route has no RTA_DST",
			data: join(rtMsg(2, 0, 254, 3, 0, 1),
				rtAttr(5, 172, 18, 0, 1),
				rtAttr(4, u32(2)...)),
			want:   route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.18.0.1"), LinkIndex: 2},
			wantOK: true,
		},
		{
			name: "a route on a link has no gateway",
			data: join(rtMsg(2, 32, 254, 4, 253, 1),
				rtAttr(1, 10, 244, 1, 5),
				rtAttr(4, u32(7)...)),
			want:   route{Dst: netip.MustParsePrefix("10.244.1.5/32"), LinkIndex: 7},
			wantOK: true,
		},
		{
			name: "IPv6",
			data: join(rtMsg(10, 64, 254, 3, 0, 1),
				rtAttr(1, 0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
				rtAttr(5, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4)),
			want:   via("fd00:10:244:2::/64", "fc00::4"),
			wantOK: true,
		},
		{
			name: "the local table is not kindnetd's business",
			data: join(rtMsg(2, 32, 255, 2, 254, 2),
				rtAttr(15, u32(255)...),
				rtAttr(1, 172, 18, 0, 3)),
		},
		{
			name: "RTA_TABLE wins over the header's table, for tables past 255",
			data: join(rtMsg(2, 24, 254, 3, 0, 1),
				rtAttr(15, u32(1000)...),
				rtAttr(1, 10, 244, 2, 0),
				rtAttr(5, 172, 18, 0, 4)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := decodeRoute(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("route %+v (ok %v), want %+v (ok %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDecodeRouteRefusesMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"shorter than rtmsg", []byte{2, 24}},
		{"attribute longer than the message", join(rtMsg(2, 24, 254, 3, 0, 1), u16(40), u16(1), []byte{10, 244, 2, 0})},
		{"prefix length past the address", join(rtMsg(2, 40, 254, 3, 0, 1), rtAttr(1, 10, 244, 2, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeRoute(tt.data); err == nil {
				t.Fatal("decoded a malformed route")
			}
		})
	}
}

// What Replace sends, read back as a dump would return it, is the route
// asked for.
func TestRouteRequestRoundTrip(t *testing.T) {
	for _, r := range []route{
		via("10.244.3.0/24", "172.18.0.5"),
		{Dst: netip.MustParsePrefix("10.244.3.0/24"), Gateway: netip.MustParseAddr("172.18.0.5"), LinkIndex: 4},
		via("fd00:10:244:3::/64", "fc00::5"),
	} {
		req, err := encodeRouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_REQUEST, 1, r)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := parseNetlinkMessages(req)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %d messages, %v", r, len(msgs), err)
		}
		got, ok, err := decodeRoute(msgs[0].Data)
		if err != nil || !ok || got != r {
			t.Errorf("%s: read back %+v (ok %v, err %v)", r, got, ok, err)
		}
	}
}
