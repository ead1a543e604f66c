package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}}, Data: map[string]string{"k": "v"}}
}

func TestConfigMapCRUDWithClientGo(t *testing.T) {
	env := apiservertest.Start(t)
	cms := env.Client.CoreV1().ConfigMaps("default")
	created, err := cms.Create(ctx(t), configMap("a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("server-owned metadata missing: %+v", created.ObjectMeta)
	}
	if _, err := cms.Create(ctx(t), configMap("a"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	got, err := cms.Get(ctx(t), "a", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("get: %v %+v", err, got)
	}

	got.Data["k"] = "v2"
	updated, err := cms.Update(ctx(t), got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion || updated.UID != created.UID {
		t.Fatalf("update did not bump the version or changed the UID: %+v", updated.ObjectMeta)
	}
	// The stale copy now conflicts, with upstream's message.
	got.Data["k"] = "stale"
	_, err = cms.Update(ctx(t), got, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the object has been modified; please apply your changes to the latest version and try again") {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}

	if err := cms.Delete(ctx(t), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx(t), "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) || err.Error() != `configmaps "a" not found` {
		t.Fatalf("get after delete: want NotFound, got %v", err)
	}
}

func TestCreateInAMissingNamespaceIsNotFound(t *testing.T) {
	env := apiservertest.Start(t)
	_, err := env.Client.CoreV1().ConfigMaps("nope").Create(ctx(t), configMap("a"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `namespaces "nope" not found` {
		t.Fatalf("want namespaces \"nope\" not found, got %v", err)
	}
}

func TestGenerateName(t *testing.T) {
	env := apiservertest.Start(t)
	cm := configMap("")
	cm.GenerateName = "web-"
	created, err := env.Client.CoreV1().ConfigMaps("default").Create(ctx(t), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Name, "web-") || len(created.Name) != len("web-")+5 {
		t.Fatalf("generated name %q", created.Name)
	}
}

func TestListPagingAndSelectors(t *testing.T) {
	env := apiservertest.Start(t)
	cms := env.Client.CoreV1().ConfigMaps("default")
	for i := range 25 {
		cm := configMap(fmt.Sprintf("cm-%02d", i))
		if i%2 == 1 {
			cm.Labels["app"] = "db"
		}
		if _, err := cms.Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := metav1.ListOptions{Limit: 10}
	for {
		page, err := cms.List(ctx(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 10 {
			t.Fatalf("page of %d items with limit 10", len(page.Items))
		}
		for _, cm := range page.Items {
			names = append(names, cm.Name)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if len(names) != 25 || names[0] != "cm-00" || names[24] != "cm-24" {
		t.Fatalf("paged list: %v", names)
	}
	db, err := cms.List(ctx(t), metav1.ListOptions{LabelSelector: "app=db"})
	if err != nil || len(db.Items) != 12 {
		t.Fatalf("label selector: %v, %d items", err, len(db.Items))
	}
	one, err := cms.List(ctx(t), metav1.ListOptions{FieldSelector: "metadata.name=cm-07"})
	if err != nil || len(one.Items) != 1 || one.Items[0].Name != "cm-07" {
		t.Fatalf("field selector: %v %v", err, one)
	}
	_, err = cms.List(ctx(t), metav1.ListOptions{FieldSelector: "spec.nodeName=x"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "field label not supported: spec.nodeName") {
		t.Fatalf("unsupported field selector: %v", err)
	}
}

func TestPatchTypes(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("default")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Image: "busybox:1"},
			{Name: "b", Image: "nginx:1"},
		}},
	}
	if _, err := pods.Create(ctx(t), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Strategic merge patch merges containers by name.
	p, err := pods.Patch(ctx(t), "p", types.StrategicMergePatchType, []byte(`{"spec":{"containers":[{"name":"b","image":"nginx:2"}]}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Containers) != 2 || p.Spec.Containers[0].Image != "busybox:1" || p.Spec.Containers[1].Image != "nginx:2" {
		t.Fatalf("strategic merge: %+v", p.Spec.Containers)
	}
	p, err = pods.Patch(ctx(t), "p", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"1"}}}`), metav1.PatchOptions{})
	if err != nil || p.Labels["x"] != "1" {
		t.Fatalf("merge patch: %v %v", err, p.Labels)
	}
	p, err = pods.Patch(ctx(t), "p", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/containers/0/image","value":"busybox:2"}]`), metav1.PatchOptions{})
	if err != nil || p.Spec.Containers[0].Image != "busybox:2" {
		t.Fatalf("json patch: %v %+v", err, p.Spec.Containers)
	}
	_, err = pods.Patch(ctx(t), "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("patch of a missing pod: %v", err)
	}
}

func TestInformerSeesChangesAcrossAWatchRestart(t *testing.T) {
	env := apiservertest.Start(t)
	factory := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace("default"))
	informer := factory.Core().V1().ConfigMaps().Informer()
	var mu sync.Mutex
	seen := map[string]string{}
	informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { mu.Lock(); seen[o.(*corev1.ConfigMap).Name] = "added"; mu.Unlock() },
		UpdateFunc: func(_, o any) {
			mu.Lock()
			seen[o.(*corev1.ConfigMap).Name] = o.(*corev1.ConfigMap).Data["k"]
			mu.Unlock()
		},
		DeleteFunc: func(o any) {
			// An informer that lists again rather than resuming
			// (client-go does when its watch ends with an error, or
			// when opening it again fails other than by a refused
			// connection) reports a deletion it did not watch as a
			// tombstone.
			if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if cm, ok := o.(*corev1.ConfigMap); ok {
				mu.Lock()
				seen[cm.Name] = "deleted"
				mu.Unlock()
			}
		},
	})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, informer.HasSynced) {
		t.Fatal("informer never synced")
	}
	cms := env.Client.CoreV1().ConfigMaps("default")
	for _, name := range []string{"x", "y"} {
		if _, err := cms.Create(ctx(t), configMap(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitSeen := func(want map[string]string) error {
		return wait.PollUntilContextTimeout(ctx(t), 20*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			for k, v := range want {
				if seen[k] != v {
					return false, nil
				}
			}
			return true, nil
		})
	}
	if err := waitSeen(map[string]string{"x": "added", "y": "added"}); err != nil {
		t.Fatalf("informer saw %v before the restart", seen)
	}

	// Cut the watch: the informer must resume from its resourceVersion and
	// miss nothing written while it was away.
	env.DropConnections()
	cur, err := cms.Get(ctx(t), "x", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Data["k"] = "changed"
	if _, err := cms.Update(ctx(t), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx(t), "y", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx(t), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return seen["x"] == "changed" && seen["y"] == "deleted", nil
	})
	if err != nil {
		mu.Lock()
		t.Fatalf("informer saw %v after the restart", seen)
	}
	// The cut really ended the first watch: a watch is counted when it
	// ends, and it would otherwise last half an hour. What the informer saw
	// afterwards came through the watch it resumed.
	metrics, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	watches := regexp.MustCompile(`apiserver_request_total\{code="200",group="",resource="configmaps",scope="namespace",subresource="",verb="WATCH",version="v1"\} (\d+)`).FindSubmatch(metrics)
	if watches == nil {
		t.Fatal("no watch of configmaps ended: the connection was not cut")
	}
	if n, _ := strconv.Atoi(string(watches[1])); n < 1 {
		t.Fatalf("ended watches: %d", n)
	}
}

func TestBadInputIsRefusedWithUpstreamStatuses(t *testing.T) {
	env := apiservertest.Start(t)
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, contentType, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := new(strings.Builder)
		_, _ = fmt.Fprint(buf, readAll(resp))
		return resp.StatusCode, buf.String()
	}
	cases := []struct {
		name, path, body string
		code             int
		message          string
	}{
		{"malformed JSON", "/api/v1/namespaces/default/configmaps", `{"metadata":`, 400, "cannot be handled as a ConfigMap"},
		{"wrong kind", "/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`, 400, `no kind "Secret" is registered`},
		{"unknown field under Strict", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", `{"metadata":{"name":"x"},"dataa":{}}`, 400, `strict decoding error: unknown field "dataa"`},
		{"invalid name", "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"Bad_Name"}}`, 422, `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"`},
		{"missing name", "/api/v1/namespaces/default/configmaps", `{"metadata":{}}`, 422, "metadata.name: Required value: name or generateName is required"},
		{"oversized body", "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"big"},"data":{"k":"` + strings.Repeat("x", 4<<20) + `"}}`, 413, "limit is 3145728"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.path, "application/json", tc.body)
			var status metav1.Status
			if err := json.Unmarshal([]byte(body), &status); err != nil || status.Kind != "Status" {
				t.Fatalf("not a Status (%v): %s", err, body)
			}
			if code != tc.code || int(status.Code) != tc.code || !strings.Contains(status.Message, tc.message) {
				t.Fatalf("got %d %q\nwant %d containing %q", code, status.Message, tc.code, tc.message)
			}
		})
	}
	list, err := env.Client.CoreV1().ConfigMaps("default").List(ctx(t), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("bad input stored something: %v %d", err, len(list.Items))
	}
}

func TestFinalizersHoldDeletionUntilRemoved(t *testing.T) {
	env := apiservertest.Start(t)
	cms := env.Client.CoreV1().ConfigMaps("default")
	cm := configMap("held")
	cm.Finalizers = []string{"example.com/hold"}
	if _, err := cms.Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx(t), "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx(t), "held", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("a finalized object must stay, marked deleted: %v %+v", err, got)
	}
	got.Finalizers = nil
	if _, err := cms.Update(ctx(t), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx(t), "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("removing the last finalizer must delete it: %v", err)
	}
}

// DeleteCollection deletes what the selector picks, several at a time,
// and nothing else; an object with a finalizer is marked, not removed; a
// watcher sees every deletion.
func TestDeleteCollectionDeletesWhatTheSelectorPicks(t *testing.T) {
	env := apiservertest.Start(t)
	cms := env.Client.CoreV1().ConfigMaps("default")
	const web, held, db = 100, 3, 5
	for i := range web + db {
		cm := configMap("web-" + strconv.Itoa(i))
		if i >= web {
			cm = configMap("db-" + strconv.Itoa(i))
			cm.Labels["app"] = "db"
		}
		if i < held {
			cm.Finalizers = []string{"example.com/hold"}
		}
		if _, err := cms.Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx(t), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if err := cms.DeleteCollection(ctx(t), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for len(deleted) < web-held {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == "DELETED" {
				deleted[ev.Object.(*corev1.ConfigMap).Name] = true
			}
		case <-ctx(t).Done():
			t.Fatalf("watch saw %d deletions, want %d", len(deleted), web-held)
		}
	}
	left, err := cms.List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var marked, others int
	for _, cm := range left.Items {
		switch {
		case cm.Labels["app"] == "db" && cm.DeletionTimestamp == nil:
			others++
		case cm.Labels["app"] == "web" && len(cm.Finalizers) > 0 && cm.DeletionTimestamp != nil:
			marked++
		default:
			t.Errorf("left: %s (labels %v, deletion %v)", cm.Name, cm.Labels, cm.DeletionTimestamp)
		}
	}
	if marked != held || others != db {
		t.Errorf("left %d marked web and %d db, want %d and %d", marked, others, held, db)
	}
}

func TestServicesGetUniqueClusterIPs(t *testing.T) {
	env := apiservertest.Start(t)
	svcs := env.Client.CoreV1().Services("default")
	seen := map[string]bool{}
	for i := range 5 {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
		}
		got, err := svcs.Create(ctx(t), svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[got.Spec.ClusterIP] || !strings.HasPrefix(got.Spec.ClusterIP, "10.96.") {
			t.Fatalf("clusterIP %q reused or out of range", got.Spec.ClusterIP)
		}
		seen[got.Spec.ClusterIP] = true
		if np := got.Spec.Ports[0].NodePort; np < 30000 || np > 32767 {
			t.Fatalf("nodePort %d", np)
		}
	}
	taken := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"}, Spec: corev1.ServiceSpec{ClusterIP: firstKey(seen), Ports: []corev1.ServicePort{{Port: 80}}}}
	_, err := svcs.Create(ctx(t), taken, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Fatalf("duplicate clusterIP: %v", err)
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func TestCreateKeepsANodesStatusButNotAPods(t *testing.T) {
	env := apiservertest.Start(t)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}},
		},
	}
	created, err := env.Client.CoreV1().Nodes().Create(ctx(t), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := created.Status.Capacity[corev1.ResourcePods]; got.String() != "110" || len(created.Status.Addresses) != 1 {
		t.Errorf("a node registered with its status lost it: %+v", created.Status)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodSucceeded, PodIP: "10.244.0.9"},
	}
	createdPod, err := env.Client.CoreV1().Pods("default").Create(ctx(t), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if createdPod.Status.Phase != corev1.PodPending || createdPod.Status.PodIP != "" {
		t.Errorf("a new pod kept the status its client wrote: %+v", createdPod.Status)
	}
}

func TestGenerationsFollowUpstreamRulesPerKind(t *testing.T) {
	env := apiservertest.Start(t)
	c := env.Client
	labels := map[string]string{"app": "g"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}

	d, err := c.AppsV1().Deployments("default").Create(ctx(t), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "g"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Annotations = map[string]string{"team": "a"}
	if d, err = c.AppsV1().Deployments("default").Update(ctx(t), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d.Generation != 2 {
		t.Errorf("a deployment's annotation change left generation %d, want 2", d.Generation)
	}
	d.Annotations["deployment.kubernetes.io/revision"] = "1"
	d.Status.ObservedGeneration = 2
	if d, err = c.AppsV1().Deployments("default").UpdateStatus(ctx(t), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != "1" || d.Generation != 2 {
		t.Errorf("a status write: annotations %v generation %d; want the revision kept and generation 2", d.Annotations, d.Generation)
	}

	ds, err := c.AppsV1().DaemonSets("default").Create(ctx(t), &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "g"},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Annotations["deprecated.daemonset.template.generation"]; got != "1" {
		t.Errorf("a new daemonset's template generation = %q, want 1", got)
	}
	ds.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if ds, err = c.AppsV1().DaemonSets("default").Update(ctx(t), ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ds.Annotations["deprecated.daemonset.template.generation"]; got != "2" {
		t.Errorf("after a template change the template generation = %q, want 2", got)
	}

	port := int32(80)
	es, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx(t), &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "g"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.2"}}}
	if es, err = c.DiscoveryV1().EndpointSlices("default").Update(ctx(t), es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if es.Generation != 2 {
		t.Errorf("an endpoint slice's change left generation %d, want 2", es.Generation)
	}
}

// The OpenAPI documents are built on first request: the server's whole
// resource table must be describable, one v3 document per group-version
// that discovery lists, and the v2 document must parse.
func TestOpenAPIDescribesEveryGroupVersion(t *testing.T) {
	env := apiservertest.Start(t)
	paths, err := env.Client.Discovery().OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	groups, err := env.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			name := "apis/" + v.GroupVersion
			if g.Name == "" {
				name = "api/" + v.Version
			}
			gv, ok := paths[name]
			if !ok {
				t.Errorf("no OpenAPI v3 document for %s", name)
				continue
			}
			if _, err := gv.Schema("application/json"); err != nil {
				t.Errorf("OpenAPI v3 document %s: %v", name, err)
			}
		}
	}
	if _, err := env.Client.Discovery().OpenAPISchema(); err != nil {
		t.Errorf("OpenAPI v2: %v", err)
	}
}
