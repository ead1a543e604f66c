package rbac

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kindish/kindish/controlplane/apiserver/auth/serviceaccount"
)

// Store holds the cluster's Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings, fed by the API server's watch cache, and keeps them
// indexed by subject so that authorizing a request looks only at the
// bindings that name its user or one of its groups.
//
// Writes are cheap and only mark the index stale; the next read rebuilds
// it once, so an initial list of thousands of objects costs one rebuild.
// Reads take no lock: they load an immutable index.
//
// Store has the methods of client-go's cache.ResourceEventHandler, so an
// informer or the server's own watch can feed it directly.
type Store struct {
	mu                  sync.Mutex // serializes writes and rebuilds
	clusterRoles        map[string]*rbacv1.ClusterRole
	roles               map[nsName]*rbacv1.Role
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding
	roleBindings        map[nsName]*rbacv1.RoleBinding

	generation atomic.Uint64 // bumped by every write
	index      atomic.Pointer[index]
}

type nsName struct{ namespace, name string }

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		clusterRoles:        map[string]*rbacv1.ClusterRole{},
		roles:               map[nsName]*rbacv1.Role{},
		clusterRoleBindings: map[string]*rbacv1.ClusterRoleBinding{},
		roleBindings:        map[nsName]*rbacv1.RoleBinding{},
	}
}

// Set adds or replaces a *Role, *ClusterRole, *RoleBinding or
// *ClusterRoleBinding; other objects are ignored. The Store keeps obj:
// callers must not modify it afterwards (watch-cache objects are not).
func (s *Store) Set(obj any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		s.clusterRoles[o.Name] = o
	case *rbacv1.Role:
		s.roles[nsName{o.Namespace, o.Name}] = o
	case *rbacv1.ClusterRoleBinding:
		s.clusterRoleBindings[o.Name] = o
	case *rbacv1.RoleBinding:
		s.roleBindings[nsName{o.Namespace, o.Name}] = o
	default:
		return
	}
	s.generation.Add(1)
}

// Delete removes the object with obj's kind, namespace and name.
func (s *Store) Delete(obj any) {
	obj = unwrapTombstone(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		delete(s.clusterRoles, o.Name)
	case *rbacv1.Role:
		delete(s.roles, nsName{o.Namespace, o.Name})
	case *rbacv1.ClusterRoleBinding:
		delete(s.clusterRoleBindings, o.Name)
	case *rbacv1.RoleBinding:
		delete(s.roleBindings, nsName{o.Namespace, o.Name})
	default:
		return
	}
	s.generation.Add(1)
}

// OnAdd implements cache.ResourceEventHandler.
func (s *Store) OnAdd(obj any, _ bool) { s.Set(obj) }

// OnUpdate implements cache.ResourceEventHandler.
func (s *Store) OnUpdate(_, obj any) { s.Set(obj) }

// OnDelete implements cache.ResourceEventHandler.
func (s *Store) OnDelete(obj any) { s.Delete(obj) }

// unwrapTombstone returns the object inside client-go's
// cache.DeletedFinalStateUnknown, which informers hand to OnDelete when
// they missed the deletion; it is matched by shape to keep client-go's
// cache package (and its dependencies) out of the API server.
func unwrapTombstone(obj any) any {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Struct || v.Type().Name() != "DeletedFinalStateUnknown" {
		return obj
	}
	if f := v.FieldByName("Obj"); f.IsValid() && f.CanInterface() {
		return f.Interface()
	}
	return obj
}

// current returns an index of the Store's present content.
func (s *Store) current() *index {
	idx := s.index.Load()
	if idx != nil && idx.generation == s.generation.Load() {
		return idx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := s.generation.Load()
	if idx = s.index.Load(); idx == nil || idx.generation != gen {
		idx = s.build(gen)
		s.index.Store(idx)
	}
	return idx
}

// index is an immutable view of the Store, by subject.
type index struct {
	generation uint64
	cluster    subjects
	namespaces map[string]*subjects
}

// subjects maps user names and group names to the grants naming them.
// ServiceAccount subjects are filed under their user name.
type subjects struct {
	users  map[string][]*grant
	groups map[string][]*grant
}

// grant is one binding of one subject, with its role's rules resolved.
type grant struct {
	// name sorts grants for listings: bindings in name order, cluster
	// bindings first, as RulesFor returns them.
	name  string
	rules []rbacv1.PolicyRule
	// err is why the role could not be resolved; rules is then empty.
	err error

	// What the reason names; it is only written out when asked for.
	bindingNamespace string // "" for a ClusterRoleBinding
	roleRef          rbacv1.RoleRef
	subject          *rbacv1.Subject
	reasonOnce       sync.Once
	reason           string
}

// String is upstream's reason for an allow: "RBAC: allowed by
// ClusterRoleBinding "name" of ClusterRole "role" to Group "group"".
func (g *grant) String() string {
	g.reasonOnce.Do(func() {
		if g.bindingNamespace == "" {
			g.reason = fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of %s %q to %s",
				g.name, g.roleRef.Kind, g.roleRef.Name, describeSubject(g.subject, ""))
		} else {
			g.reason = fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s",
				g.name+"/"+g.bindingNamespace, g.roleRef.Kind, g.roleRef.Name, describeSubject(g.subject, g.bindingNamespace))
		}
	})
	return g.reason
}

func (s *Store) build(gen uint64) *index {
	roles := make([]*rbacv1.ClusterRole, 0, len(s.clusterRoles))
	for _, r := range s.clusterRoles {
		roles = append(roles, r)
	}
	clusterRules := AggregatedRules(roles)

	resolve := func(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
		switch ref.Kind {
		case "ClusterRole":
			if _, ok := s.clusterRoles[ref.Name]; !ok {
				return nil, apierrors.NewNotFound(rbacv1.Resource("clusterrole"), ref.Name)
			}
			return clusterRules[ref.Name], nil
		case "Role":
			r, ok := s.roles[nsName{namespace, ref.Name}]
			if !ok {
				return nil, apierrors.NewNotFound(rbacv1.Resource("role"), ref.Name)
			}
			return r.Rules, nil
		}
		return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
	}

	idx := &index{generation: gen, cluster: newSubjects(), namespaces: map[string]*subjects{}}
	for _, b := range s.clusterRoleBindings {
		rules, err := resolve(b.RoleRef, "")
		for i := range b.Subjects {
			sub := &b.Subjects[i]
			g := &grant{name: b.Name, rules: rules, err: err, roleRef: b.RoleRef, subject: sub}
			idx.cluster.add(sub, "", g)
		}
	}
	for _, b := range s.roleBindings {
		rules, err := resolve(b.RoleRef, b.Namespace)
		ns := idx.namespaces[b.Namespace]
		if ns == nil {
			n := newSubjects()
			ns = &n
			idx.namespaces[b.Namespace] = ns
		}
		for i := range b.Subjects {
			sub := &b.Subjects[i]
			g := &grant{name: b.Name, rules: rules, err: err, bindingNamespace: b.Namespace, roleRef: b.RoleRef, subject: sub}
			ns.add(sub, b.Namespace, g)
		}
	}
	idx.cluster.sort()
	for _, ns := range idx.namespaces {
		ns.sort()
	}
	return idx
}

func newSubjects() subjects {
	return subjects{users: map[string][]*grant{}, groups: map[string][]*grant{}}
}

// add files g under the user or group that sub names. ServiceAccount
// subjects without a namespace take the binding's, as upstream; in a
// ClusterRoleBinding they have none and so match no one.
func (s *subjects) add(sub *rbacv1.Subject, bindingNamespace string, g *grant) {
	switch sub.Kind {
	case rbacv1.UserKind:
		s.users[sub.Name] = append(s.users[sub.Name], g)
	case rbacv1.GroupKind:
		s.groups[sub.Name] = append(s.groups[sub.Name], g)
	case rbacv1.ServiceAccountKind:
		ns := sub.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		if ns == "" {
			return
		}
		name := serviceaccount.MakeUsername(ns, sub.Name)
		s.users[name] = append(s.users[name], g)
	}
}

// sort orders each subject's grants by binding name, so that decisions
// and listings do not depend on map order.
func (s *subjects) sort() {
	byName := func(a, b *grant) int { return strings.Compare(a.name, b.name) }
	for _, gs := range s.users {
		slices.SortStableFunc(gs, byName)
	}
	for _, gs := range s.groups {
		slices.SortStableFunc(gs, byName)
	}
}

// describeSubject names a subject in reasons as upstream does.
func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}
