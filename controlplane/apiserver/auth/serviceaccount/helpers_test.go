package serviceaccount

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/cluster/pki"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeGetter is an in-memory Getter.
type fakeGetter struct {
	serviceAccounts map[string]*corev1.ServiceAccount
	pods            map[string]*corev1.Pod
	secrets         map[string]*corev1.Secret
	nodes           map[string]*corev1.Node
}

func newFakeGetter() *fakeGetter {
	return &fakeGetter{
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		pods:            map[string]*corev1.Pod{},
		secrets:         map[string]*corev1.Secret{},
		nodes:           map[string]*corev1.Node{},
	}
}

func (g *fakeGetter) add(objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			g.serviceAccounts[o.Namespace+"/"+o.Name] = o
		case *corev1.Pod:
			g.pods[o.Namespace+"/"+o.Name] = o
		case *corev1.Secret:
			g.secrets[o.Namespace+"/"+o.Name] = o
		case *corev1.Node:
			g.nodes[o.Name] = o
		}
	}
}

func (g *fakeGetter) GetServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	if o, ok := g.serviceAccounts[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

func (g *fakeGetter) GetPod(ns, name string) (*corev1.Pod, error) {
	if o, ok := g.pods[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pod"), name)
}

func (g *fakeGetter) GetSecret(ns, name string) (*corev1.Secret, error) {
	if o, ok := g.secrets[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
}

func (g *fakeGetter) GetNode(name string) (*corev1.Node, error) {
	if o, ok := g.nodes[name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("node"), name)
}

func testServiceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "builder", UID: "sa-uid"}}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1", UID: "pod-uid"},
		Spec:       corev1.PodSpec{ServiceAccountName: "builder", NodeName: "kindish-worker"},
	}
}

func testNode() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kindish-worker", UID: "node-uid"}}
}

// clusterKeys are the ServiceAccount keys of a PKI generated as for a
// real cluster, read back from the files nodes receive.
func clusterKeys(t testing.TB) (*ecdsa.PrivateKey, []*ecdsa.PublicKey) {
	t.Helper()
	b, err := pki.Generate(pki.Options{
		Nodes: []pki.Node{{Name: "kindish-control-plane", IP: net.ParseIP("172.18.0.2"), ControlPlane: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := b.NodeFiles("kindish-control-plane")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(files[pki.ServiceAccountKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeys(files[pki.ServiceAccountPublicKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func otherKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	signer *Signer
	auth   *Authenticator
	getter *fakeGetter
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	priv, pub := clusterKeys(t)
	f := &fixture{getter: newFakeGetter(), now: testNow}
	clock := func() time.Time { return f.now }
	var err error
	if f.signer, err = NewSigner("", priv, clock); err != nil {
		t.Fatal(err)
	}
	if f.auth, err = NewAuthenticator(AuthenticatorConfig{Keys: pub, Getter: f.getter, Now: clock}); err != nil {
		t.Fatal(err)
	}
	f.getter.add(testServiceAccount(), testPod(), testNode())
	return f
}

func (f *fixture) podToken(t testing.TB) string {
	t.Helper()
	tok, _, err := f.signer.Bound(BoundToken{
		ServiceAccount: testServiceAccount(),
		Pod:            testPod(),
		Node:           testNode(),
		Audiences:      []string{DefaultIssuer},
		Expiration:     time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func typesUID(s string) types.UID { return types.UID(s) }
