package deployment

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// revisionSet is a ReplicaSet of deployment d at revision rev, running
// image, as the controller would have made it.
func revisionSet(d *appsv1.Deployment, rev, image, changeCause string) *appsv1.ReplicaSet {
	tmpl := template(image)
	hash := ComputeHash(&tmpl, nil)
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := replicaSet("web-"+hash, 0, 0, map[string]string{RevisionAnnotation: rev, "kubernetes.io/change-cause": changeCause})
	rs.Spec.Template = tmpl
	rs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)}
	return rs
}

func TestRollbackAnnotation(t *testing.T) {
	tests := []struct {
		name      string
		to        string
		image     string // the deployment's template
		wantImage string
		wantCause string
		wantEvent string
	}{
		{name: "to a revision", to: "1", image: "nginx:2", wantImage: "nginx:1", wantCause: "v1",
			wantEvent: `Normal DeploymentRollback Rolled back deployment "web" to revision 1`},
		{name: "to the previous revision", to: "0", image: "nginx:2", wantImage: "nginx:1", wantCause: "v1",
			wantEvent: `Normal DeploymentRollback Rolled back deployment "web" to revision 1`},
		{name: "to a revision that does not exist", to: "7", image: "nginx:2", wantImage: "nginx:2", wantCause: "v2",
			wantEvent: "Warning DeploymentRollbackRevisionNotFound Unable to find the revision to rollback to."},
		{name: "to the current template", to: "2", image: "nginx:2", wantImage: "nginx:2", wantCause: "v2",
			wantEvent: `Warning DeploymentRollbackTemplateUnchanged The rollback revision contains the same template as current deployment "web"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := rollingDeployment(2, "1", "0")
			d.Spec.Template = template(tt.image)
			d.Annotations = map[string]string{appsv1.DeprecatedRollbackTo: tt.to, "kubernetes.io/change-cause": "v2", RevisionAnnotation: "2"}
			rss := []*appsv1.ReplicaSet{revisionSet(d, "1", "nginx:1", "v1"), revisionSet(d, "2", "nginx:2", "v2")}
			c, client, rec, _ := fakeController(d, rss[0], rss[1])
			if err := c.rollback(context.Background(), d.DeepCopy(), rss); err != nil {
				t.Fatal(err)
			}
			got, err := client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.Annotations[appsv1.DeprecatedRollbackTo]; ok {
				t.Error("rollback request not cleared")
			}
			if img := got.Spec.Template.Spec.Containers[0].Image; img != tt.wantImage {
				t.Errorf("template image %q, want %q", img, tt.wantImage)
			}
			if _, ok := got.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
				t.Error("pod-template-hash label copied into the deployment's template")
			}
			if cause := got.Annotations["kubernetes.io/change-cause"]; cause != tt.wantCause {
				t.Errorf("change-cause %q, want %q", cause, tt.wantCause)
			}
			if !slices.Contains(rec.all(), tt.wantEvent) {
				t.Errorf("events %q, want %q", rec.all(), tt.wantEvent)
			}
		})
	}
}
