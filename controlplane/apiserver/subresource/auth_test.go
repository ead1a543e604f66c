package subresource_test

import (
	"slices"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestTokenRequestIssuesATokenTheServerAccepts(t *testing.T) {
	env := apiservertest.Start(t)
	must[*corev1.ServiceAccount](t)(env.Client.CoreV1().ServiceAccounts("default").Create(ctx(t),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}))

	before := time.Now()
	tr := must[*authenticationv1.TokenRequest](t)(env.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx(t), "robot",
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{}))
	if tr.Status.Token == "" {
		t.Fatal("no token")
	}
	if exp := tr.Status.ExpirationTimestamp.Time; exp.Before(before.Add(59*time.Minute)) || exp.After(before.Add(61*time.Minute)) {
		t.Fatalf("expiration %v, want an hour from now", exp)
	}

	// The token authenticates its bearer as the ServiceAccount...
	cfg := env.AnonymousConfig()
	cfg.BearerToken = tr.Status.Token
	robot := must[*kubernetes.Clientset](t)(kubernetes.NewForConfig(cfg))
	whoami := must[*authenticationv1.SelfSubjectReview](t)(robot.AuthenticationV1().SelfSubjectReviews().Create(ctx(t), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}))
	if got := whoami.Status.UserInfo.Username; got != "system:serviceaccount:default:robot" {
		t.Fatalf("bearer of the token is %q", got)
	}

	// ...and a TokenReview says so.
	review := must[*authenticationv1.TokenReview](t)(env.Client.AuthenticationV1().TokenReviews().Create(ctx(t),
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{}))
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:default:robot" {
		t.Fatalf("token review: %+v", review.Status)
	}
	bad := must[*authenticationv1.TokenReview](t)(env.Client.AuthenticationV1().TokenReviews().Create(ctx(t),
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}}, metav1.CreateOptions{}))
	if bad.Status.Authenticated || bad.Status.Error == "" {
		t.Fatalf("review of a bad token: %+v", bad.Status)
	}

	if _, err := env.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx(t), "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("token for a missing ServiceAccount: want NotFound, got %v", err)
	}
}

func TestSelfSubjectReviewNamesTheRequester(t *testing.T) {
	env := apiservertest.Start(t)
	alice := must[*kubernetes.Clientset](t)(kubernetes.NewForConfig(env.ConfigFor(t, "alice", "devs")))
	got := must[*authenticationv1.SelfSubjectReview](t)(alice.AuthenticationV1().SelfSubjectReviews().Create(ctx(t), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}))
	if got.Status.UserInfo.Username != "alice" || !slices.Contains(got.Status.UserInfo.Groups, "devs") || !slices.Contains(got.Status.UserInfo.Groups, "system:authenticated") {
		t.Fatalf("whoami: %+v", got.Status.UserInfo)
	}
}

func TestAccessReviews(t *testing.T) {
	env := apiservertest.Start(t)
	alice := must[*kubernetes.Clientset](t)(kubernetes.NewForConfig(env.ConfigFor(t, "alice")))
	createPods := &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "create", Resource: "pods"}

	tests := []struct {
		name   string
		review func() (authorizationv1.SubjectAccessReviewStatus, error)
		want   bool
	}{
		{"the admin may create pods", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := env.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx(t), &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: createPods}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.SelfSubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, true},
		{"alice may not create pods", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := alice.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx(t), &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: createPods}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.SelfSubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, false},
		{"alice may ask about herself", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := alice.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx(t), &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Group: "authorization.k8s.io", Verb: "create", Resource: "selfsubjectaccessreviews"}}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.SelfSubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, true},
		{"a subject access review of alice", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx(t), &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: createPods}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.SubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, false},
		{"a subject access review of a master", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx(t), &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob", Groups: []string{"system:masters"}, ResourceAttributes: createPods}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.SubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, true},
		{"a local subject access review", func() (authorizationv1.SubjectAccessReviewStatus, error) {
			r, err := env.Client.AuthorizationV1().LocalSubjectAccessReviews("default").Create(ctx(t), &authorizationv1.LocalSubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob", Groups: []string{"system:masters"}, ResourceAttributes: createPods}}, metav1.CreateOptions{})
			return statusOf(r, err, func(r *authorizationv1.LocalSubjectAccessReview) authorizationv1.SubjectAccessReviewStatus {
				return r.Status
			})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := tt.review()
			if err != nil {
				t.Fatal(err)
			}
			if status.Allowed != tt.want {
				t.Fatalf("allowed %v, want %v: %+v", status.Allowed, tt.want, status)
			}
		})
	}

	_, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx(t), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: createPods}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a review without a subject: want Invalid, got %v", err)
	}
}

func statusOf[T any](r T, err error, status func(T) authorizationv1.SubjectAccessReviewStatus) (authorizationv1.SubjectAccessReviewStatus, error) {
	if err != nil {
		return authorizationv1.SubjectAccessReviewStatus{}, err
	}
	return status(r), nil
}

func TestSelfSubjectRulesReview(t *testing.T) {
	env := apiservertest.Start(t)
	admin := must[*authorizationv1.SelfSubjectRulesReview](t)(env.Client.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx(t),
		&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, metav1.CreateOptions{}))
	all := slices.ContainsFunc(admin.Status.ResourceRules, func(r authorizationv1.ResourceRule) bool {
		return slices.Contains(r.Verbs, "*") && slices.Contains(r.Resources, "*") && slices.Contains(r.APIGroups, "*")
	})
	if !all {
		t.Fatalf("the admin's rules lack */*/*: %+v", admin.Status.ResourceRules)
	}

	alice := must[*kubernetes.Clientset](t)(kubernetes.NewForConfig(env.ConfigFor(t, "alice")))
	rules := must[*authorizationv1.SelfSubjectRulesReview](t)(alice.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx(t),
		&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, metav1.CreateOptions{}))
	canReview := slices.ContainsFunc(rules.Status.ResourceRules, func(r authorizationv1.ResourceRule) bool {
		return slices.Contains(r.Resources, "selfsubjectrulesreviews")
	})
	if !canReview || slices.ContainsFunc(rules.Status.ResourceRules, func(r authorizationv1.ResourceRule) bool { return slices.Contains(r.Resources, "*") }) {
		t.Fatalf("alice's rules: %+v", rules.Status.ResourceRules)
	}

	if _, err := env.Client.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx(t), &authorizationv1.SelfSubjectRulesReview{}, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Fatalf("rules review without a namespace: want BadRequest, got %v", err)
	}
}

func TestReviewsAreCreateOnly(t *testing.T) {
	env := apiservertest.Start(t)
	err := env.Client.AuthorizationV1().RESTClient().Get().Resource("selfsubjectaccessreviews").Do(ctx(t)).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Fatalf("list of reviews: want 405, got %v", err)
	}
}
