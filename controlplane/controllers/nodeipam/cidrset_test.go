package nodeipam

import (
	"errors"
	"net/netip"
	"testing"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestCIDRSetAllocation(t *testing.T) {
	tests := []struct {
		name     string
		cluster  string
		nodeBits int
		// steps: "a" allocates, "o <cidr>" occupies, "r <cidr>" releases.
		steps []string
		want  []string // what each "a" returns; "exhausted" for the error
	}{
		{
			name: "consecutive node ranges from the start", cluster: "10.244.0.0/16", nodeBits: 24,
			steps: []string{"a", "a", "a"},
			want:  []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"},
		},
		{
			name: "occupied ranges are skipped", cluster: "10.244.0.0/16", nodeBits: 24,
			steps: []string{"o 10.244.0.0/24", "o 10.244.1.0/24", "a"},
			want:  []string{"10.244.2.0/24"},
		},
		{
			name: "a range inside a node range occupies it", cluster: "10.244.0.0/16", nodeBits: 24,
			steps: []string{"o 10.244.0.128/25", "a"},
			want:  []string{"10.244.1.0/24"},
		},
		{
			name: "a range wider than the cluster occupies all of it", cluster: "10.96.0.0/22", nodeBits: 24,
			steps: []string{"o 10.96.0.0/16", "a"},
			want:  []string{"exhausted"},
		},
		{
			name: "exhaustion is an error", cluster: "10.244.0.0/23", nodeBits: 24,
			steps: []string{"a", "a", "a"},
			want:  []string{"10.244.0.0/24", "10.244.1.0/24", "exhausted"},
		},
		{
			name: "a released range is not handed out again before the others", cluster: "10.244.0.0/22", nodeBits: 24,
			steps: []string{"a", "r 10.244.0.0/24", "a", "a", "a", "a"},
			want:  []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24", "10.244.0.0/24"},
		},
		{
			name: "release frees a range for a full set", cluster: "10.244.0.0/23", nodeBits: 24,
			steps: []string{"a", "a", "r 10.244.0.0/24", "a"},
			want:  []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.0.0/24"},
		},
		{
			name: "IPv6 node ranges", cluster: "fd00:10:244::/56", nodeBits: 64,
			steps: []string{"a", "a"},
			want:  []string{"fd00:10:244::/64", "fd00:10:244:1::/64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newCIDRSet(mustPrefix(tt.cluster), tt.nodeBits)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, step := range tt.steps {
				switch step[0] {
				case 'a':
					p, err := s.allocateNext()
					switch {
					case errors.Is(err, errRangeExhausted):
						got = append(got, "exhausted")
					case err != nil:
						t.Fatal(err)
					default:
						got = append(got, p.String())
					}
				case 'o':
					if err := s.occupy(mustPrefix(step[2:])); err != nil {
						t.Fatal(err)
					}
				case 'r':
					if err := s.release(mustPrefix(step[2:])); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("allocated %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("allocated %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestCIDRSetRejects(t *testing.T) {
	tests := []struct {
		name     string
		cluster  string
		nodeBits int
	}{
		{name: "node range wider than the cluster", cluster: "10.244.0.0/16", nodeBits: 8},
		{name: "node mask longer than the address", cluster: "10.244.0.0/16", nodeBits: 33},
		{name: "more than 2^16 node ranges", cluster: "10.0.0.0/8", nodeBits: 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newCIDRSet(mustPrefix(tt.cluster), tt.nodeBits); err == nil {
				t.Fatalf("newCIDRSet(%s, /%d) succeeded", tt.cluster, tt.nodeBits)
			}
		})
	}
	s, err := newCIDRSet(mustPrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, outside := range []string{"10.245.0.0/24", "fd00::/64"} {
		if err := s.occupy(mustPrefix(outside)); err == nil {
			t.Errorf("occupy(%s) outside the cluster succeeded", outside)
		}
	}
}
