package kindnetd

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestRenderConflist(t *testing.T) {
	tests := []struct {
		name     string
		podCIDRs []string
		mtu      int
		want     string
	}{
		{
			name:     "one IPv4 range with the main interface's MTU",
			podCIDRs: []string{"10.244.1.0/24"},
			mtu:      1500,
			want: `{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ],
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ]
        ]
      },
      "mtu": 1500
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
`,
		},
		{
			name:     "no MTU known leaves it to the plugin",
			podCIDRs: []string{"10.244.2.0/24"},
			want: `{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ],
        "ranges": [
          [
            {
              "subnet": "10.244.2.0/24"
            }
          ]
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
`,
		},
		{
			name:     "dual stack has a range set and a default route per family",
			podCIDRs: []string{"10.244.1.0/24", "fd00:10:244:1::/64"},
			mtu:      1450,
			want: `{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [
          {
            "dst": "0.0.0.0/0"
          },
          {
            "dst": "::/0"
          }
        ],
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ],
          [
            {
              "subnet": "fd00:10:244:1::/64"
            }
          ]
        ]
      },
      "mtu": 1450
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cidrs []netip.Prefix
			for _, s := range tt.podCIDRs {
				cidrs = append(cidrs, netip.MustParsePrefix(s))
			}
			got, err := renderConflist(cidrs, tt.mtu)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("conflist:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRenderConflistRefusesNoRange(t *testing.T) {
	if _, err := renderConflist(nil, 1500); err == nil {
		t.Fatal("rendered a conflist without a pod range")
	}
}

func TestWriteFileIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.d", "10-kindnet.conflist")

	wrote, err := writeFileIfChanged(path, []byte("first\n"))
	if err != nil || !wrote {
		t.Fatalf("first write: wrote=%v err=%v, want a write", wrote, err)
	}
	assertFile(t, path, "first\n")
	first, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if first.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so that anyone on the node can read it", first.Mode().Perm())
	}

	t.Run("same content is not rewritten", func(t *testing.T) {
		wrote, err := writeFileIfChanged(path, []byte("first\n"))
		if err != nil || wrote {
			t.Fatalf("wrote=%v err=%v, want no write", wrote, err)
		}
		again, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(first, again) {
			t.Error("the file was replaced although its content did not change")
		}
	})

	t.Run("new content replaces the file by rename, never in place", func(t *testing.T) {
		wrote, err := writeFileIfChanged(path, []byte("second\n"))
		if err != nil || !wrote {
			t.Fatalf("wrote=%v err=%v, want a write", wrote, err)
		}
		assertFile(t, path, "second\n")
		replaced, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(first, replaced) {
			t.Error("the file was rewritten in place: a reader could see it half-written")
		}
	})

	t.Run("a file changed by hand is put back", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("edited\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wrote, err := writeFileIfChanged(path, []byte("second\n"))
		if err != nil || !wrote {
			t.Fatalf("wrote=%v err=%v, want a write", wrote, err)
		}
		assertFile(t, path, "second\n")
	})

	t.Run("no temporary file is left behind", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "10-kindnet.conflist" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %v, want only the conflist", names)
		}
	})
}

func TestWriteFileIfChangedFailsWhenDirectoryIsAFile(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := writeFileIfChanged(filepath.Join(notDir, "10-kindnet.conflist"), []byte("x")); err == nil {
		t.Fatal("wrote under a regular file")
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}
