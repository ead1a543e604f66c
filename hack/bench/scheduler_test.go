package main

import (
	"crypto/x509"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/cert"

	"github.com/kindish/kindish/cluster/pki"
)

func TestRecordBindsCountsEachPodOnce(t *testing.T) {
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	}
	w := watch.NewFakeWithChanSize(10, false)
	w.Add(pod("a", ""))
	w.Add(pod("b", ""))
	w.Modify(pod("a", "n1"))
	// A second update of a bound pod is not a second bind.
	w.Modify(pod("a", "n1"))
	w.Modify(pod("b", "n2"))
	got, err := recordBinds(w, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.lastCreated.IsZero() || got.firstBound.IsZero() || got.lastBound.Before(got.firstBound) {
		t.Errorf("times = %+v, want all set, in order", got)
	}
}

func TestRecordBindsReportsAnEndedWatch(t *testing.T) {
	w := watch.NewFakeWithChanSize(10, false)
	w.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.PodSpec{NodeName: "n1"}})
	w.Stop()
	if _, err := recordBinds(w, 2); err == nil {
		t.Fatal("recordBinds returned no error for a watch that ended with 1 of 2 pods bound")
	}
}

func TestIssueClientCertIsTheUserSignedByTheCA(t *testing.T) {
	bundle, err := pki.Generate(pki.Options{
		Nodes:            []pki.Node{{Name: benchNode, IP: net.IPv4(127, 0, 0, 1), ControlPlane: true}},
		APIServerAddress: "127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := bundle.NodeFiles(benchNode)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := issueClientCert(files[pki.CACertPath].Data, files[pki.CAKeyPath].Data, pki.SchedulerUser)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle.CACert())
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate does not verify as a client of the CA: %v", err)
	}
	if cn := certs[0].Subject.CommonName; cn != pki.SchedulerUser {
		t.Errorf("CN = %q, want %q", cn, pki.SchedulerUser)
	}
}
