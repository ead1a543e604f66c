package serviceaccount

import (
	"fmt"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bounds of TokenRequest's expirationSeconds, and its default.
const (
	MinTokenAgeSeconds     = 10 * 60
	MaxTokenAgeSeconds     = 1 << 32
	DefaultTokenAgeSeconds = 60 * 60
)

var tokenRequestKind = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// TokenRequests serves the serviceaccounts/token subresource the way
// upstream's TokenREST does.
type TokenRequests struct {
	Signer *Signer
	Getter Getter
	// APIAudiences are given to tokens whose request names none.
	APIAudiences []string
	// MaxExpiration shortens longer requests, with a warning
	// (--service-account-max-token-expiration); 0 means no limit.
	MaxExpiration time.Duration
	// ExtendExpiration gives the kubelet's pod-bound tokens a year of
	// validity with a "warnafter" at the requested hour, as
	// --service-account-extend-token-expiration (on in kubeadm clusters).
	ExtendExpiration bool
}

// Create issues a token for ServiceAccount namespace/name. req is the
// decoded request body; it is not modified. Errors are API status errors;
// warnings are for the response's Warning headers.
func (t *TokenRequests) Create(namespace, name string, req *authenticationv1.TokenRequest) (out *authenticationv1.TokenRequest, warnings []string, err error) {
	if namespace == "" {
		return nil, nil, apierrors.NewBadRequest("namespace is required")
	}
	req = req.DeepCopy()
	if req.Name != "" && req.Name != name {
		errs := field.ErrorList{field.Invalid(field.NewPath("metadata").Child("name"), req.Name, "must match the service account name if specified")}
		return nil, nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), name, errs)
	}
	if req.Namespace != "" && req.Namespace != namespace {
		errs := field.ErrorList{field.Invalid(field.NewPath("metadata").Child("namespace"), req.Namespace, "must match the service account namespace if specified")}
		return nil, nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), name, errs)
	}

	sa, err := t.Getter.GetServiceAccount(namespace, name)
	if err != nil {
		return nil, nil, err
	}
	if req.UID != "" && req.UID != sa.UID {
		return nil, nil, apierrors.NewConflict(schema.GroupResource{Group: tokenRequestKind.Group, Resource: tokenRequestKind.Kind}, name,
			fmt.Errorf("the UID in the token request (%s) does not match the UID of the service account (%s)", req.UID, sa.UID))
	}

	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = slices.Clone(t.APIAudiences)
	}
	if req.Spec.ExpirationSeconds == nil {
		seconds := int64(DefaultTokenAgeSeconds)
		req.Spec.ExpirationSeconds = &seconds
	}
	req.Name, req.Namespace, req.UID = sa.Name, sa.Namespace, sa.UID
	// The time is taken before signing so that the expiration reported
	// is never later than the token's "exp".
	now := t.Signer.now()
	req.CreationTimestamp = metav1.NewTime(now)
	req.Status = authenticationv1.TokenRequestStatus{}

	if errs := validateTokenRequest(req); len(errs) != 0 {
		return nil, nil, apierrors.NewInvalid(tokenRequestKind.GroupKind(), "", errs)
	}

	var (
		pod    *corev1.Pod
		secret *corev1.Secret
		node   *corev1.Node
	)
	if ref := req.Spec.BoundObjectRef; ref != nil {
		var uid types.UID
		gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		switch {
		case gvk.Group == "" && gvk.Kind == "Pod":
			if pod, err = t.Getter.GetPod(namespace, ref.Name); err != nil {
				return nil, nil, err
			}
			if name != pod.Spec.ServiceAccountName {
				return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name))
			}
			uid = pod.UID
			if nodeName := pod.Spec.NodeName; nodeName != "" {
				node, err = t.Getter.GetNode(nodeName)
				switch {
				case apierrors.IsNotFound(err):
					// The token still names the node, without its UID.
					node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}
				case err != nil:
					return nil, nil, apierrors.NewInternalError(err)
				}
			}
		case gvk.Group == "" && gvk.Kind == "Node":
			if node, err = t.Getter.GetNode(ref.Name); err != nil {
				return nil, nil, err
			}
			uid = node.UID
		case gvk.Group == "" && gvk.Kind == "Secret":
			if secret, err = t.Getter.GetSecret(namespace, ref.Name); err != nil {
				return nil, nil, err
			}
			uid = secret.UID
		default:
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
		}
		if ref.UID != "" && uid != ref.UID {
			return nil, nil, apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
				fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
	}

	if max := int64(t.MaxExpiration / time.Second); max > 0 && *req.Spec.ExpirationSeconds > max {
		warnings = append(warnings, fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *req.Spec.ExpirationSeconds, max))
		*req.Spec.ExpirationSeconds = max
	}

	exp := *req.Spec.ExpirationSeconds
	var warnAfter int64
	if t.ExtendExpiration && pod != nil && exp == WarnOnlyBoundTokenExpirationSeconds && t.isAPIAudiences(req.Spec.Audiences) {
		warnAfter, exp = exp, ExpirationExtensionSeconds
	}

	token, _, err := t.Signer.Bound(BoundToken{
		ServiceAccount: sa,
		Pod:            pod,
		Secret:         secret,
		Node:           node,
		Audiences:      req.Spec.Audiences,
		Expiration:     time.Duration(exp) * time.Second,
		WarnAfter:      time.Duration(warnAfter) * time.Second,
	})
	if err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %v", err))
	}
	req.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
	}
	return req, warnings, nil
}

// isAPIAudiences reports whether every audience is one of the API server's.
func (t *TokenRequests) isAPIAudiences(audiences []string) bool {
	for _, a := range audiences {
		if !slices.Contains(t.APIAudiences, a) {
			return false
		}
	}
	return true
}

// validateTokenRequest is upstream's ValidateTokenRequest.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec").Child("expirationSeconds")
	seconds := *tr.Spec.ExpirationSeconds
	if seconds < MinTokenAgeSeconds {
		errs = append(errs, field.Invalid(path, seconds, "may not specify a duration less than 10 minutes"))
	}
	if seconds > MaxTokenAgeSeconds {
		errs = append(errs, field.Invalid(path, seconds, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}
