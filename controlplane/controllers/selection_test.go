package controllers

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectControllers(t *testing.T) {
	table := []Descriptor{
		{Name: "serviceaccount-controller", Aliases: []string{"serviceaccount"}},
		{Name: "node-ipam-controller", Aliases: []string{"nodeipam"}},
		{Name: "bootstrap-signer-controller", Aliases: []string{"bootstrapsigner"}, DisabledByDefault: true},
		{Name: "token-cleaner-controller", Aliases: []string{"tokencleaner"}, DisabledByDefault: true},
	}
	tests := []struct {
		name    string
		flags   []string
		want    []string
		wantErr []string
	}{
		{name: "star runs the default set", flags: []string{"*"}, want: []string{"serviceaccount-controller", "node-ipam-controller"}},
		{
			name:  "kubeadm's list adds the disabled-by-default ones",
			flags: []string{"*", "bootstrapsigner", "tokencleaner"},
			want:  []string{"serviceaccount-controller", "node-ipam-controller", "bootstrap-signer-controller", "token-cleaner-controller"},
		},
		{name: "minus an alias disables", flags: []string{"*", "-nodeipam"}, want: []string{"serviceaccount-controller"}},
		{name: "minus a canonical name disables", flags: []string{"-node-ipam-controller", "*"}, want: []string{"serviceaccount-controller"}},
		{name: "without star only the named run", flags: []string{"nodeipam"}, want: []string{"node-ipam-controller"}},
		{name: "the first mention decides", flags: []string{"nodeipam", "-nodeipam"}, want: []string{"node-ipam-controller"}},
		{name: "nothing named runs nothing", flags: []string{"-serviceaccount"}, want: nil},
		{name: "unknown names are errors, all of them", flags: []string{"*", "replicaset", "-bogus"}, wantErr: []string{`"replicaset"`, `"bogus"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectControllers(table, tt.flags)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w+" is not in the list of known controllers") {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range got {
				names = append(names, d.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Fatalf("selected %v, want %v", names, tt.want)
			}
		})
	}
}

func TestKnownControllersTable(t *testing.T) {
	seen := map[string]string{}
	for _, d := range KnownControllers() {
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			if other, dup := seen[n]; dup {
				t.Errorf("%q names both %s and %s", n, other, d.Name)
			}
			seen[n] = d.Name
		}
		if d.Init == nil && d.Note == "" {
			t.Errorf("%s has neither Init nor a note saying why", d.Name)
		}
		if d.Init != nil && d.ServiceAccount == "" {
			t.Errorf("%s runs without a ServiceAccount for --use-service-account-credentials", d.Name)
		}
	}
	// kubeadm's --controllers must resolve, with bootstrapsigner and
	// tokencleaner accepted but not run.
	got, err := selectControllers(KnownControllers(), []string{"*", "bootstrapsigner", "tokencleaner"})
	if err != nil {
		t.Fatal(err)
	}
	var run []string
	for _, d := range got {
		if d.Init != nil {
			run = append(run, d.Name)
		}
	}
	want := []string{
		"cronjob-controller",
		"daemonset-controller",
		"deployment-controller",
		"endpoints-controller",
		"endpointslice-controller",
		"endpointslice-mirroring-controller",
		"garbage-collector-controller",
		"job-controller",
		"namespace-controller",
		"node-ipam-controller",
		"node-lifecycle-controller",
		"pod-garbage-collector-controller",
		"replicaset-controller",
		"replicationcontroller-controller",
		"resourcequota-controller",
		"root-ca-certificate-publisher-controller",
		"serviceaccount-controller",
		"statefulset-controller",
		"taint-eviction-controller",
		"ttl-after-finished-controller",
	}
	if !slices.Equal(run, want) {
		t.Fatalf("kubeadm's list runs %v, want %v", run, want)
	}
}
