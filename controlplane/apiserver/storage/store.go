package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Store is Interface on etcd. Every write is one etcd transaction; reads
// are one range request (lists: one per page).
type Store struct {
	client  *clientv3.Client
	codec   Codec
	newFunc func() runtime.Object
	cache   *ObjectCache
}

var _ Interface = (*Store)(nil)

// Option tunes a Store.
type Option func(*Store)

// WithNewFunc names the type of the objects the store holds. Watch needs it
// to decode events and to build bookmark objects; the other methods are
// given objects of the right type by their callers.
func WithNewFunc(newFunc func() runtime.Object) Option {
	return func(s *Store) { s.newFunc = newFunc }
}

// WithObjectCache makes the store keep decoded objects in c, which other
// stores may share; nil keeps none. By default a store has its own cache of
// DefaultObjectCacheBytes.
func WithObjectCache(c *ObjectCache) Option {
	return func(s *Store) { s.cache = c }
}

// New returns a store on client. A nil codec is DefaultCodec(). A Store
// holds one resource when it is to serve watches (see WithNewFunc); several
// Stores share one client.
func New(client *clientv3.Client, codec Codec, opts ...Option) *Store {
	if codec == nil {
		codec = DefaultCodec()
	}
	s := &Store{client: client, codec: codec, cache: NewObjectCache(DefaultObjectCacheBytes)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// CurrentRevision implements Interface.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	// Any range answers with the revision in its header; a count over
	// one key that does not exist is the cheapest.
	resp, err := s.client.Get(ctx, "\x00", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("read etcd revision: %w", err)
	}
	return resp.Header.Revision, nil
}

// Create implements Interface.
func (s *Store) Create(ctx context.Context, key string, obj, out runtime.Object) error {
	if err := checkKey(key); err != nil {
		return err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	// kube-apiserver lets an unparsable resourceVersion through and
	// clears it; only a real one is refused.
	if rv, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64); err == nil && rv != 0 {
		return ErrResourceVersionSetOnCreate
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := s.encode(obj, buf); err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(buf.Bytes()))).
		Commit()
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	if !resp.Succeeded {
		return newError(ErrCodeKeyExists, key, 0, "")
	}
	if out == nil {
		return nil
	}
	return s.decode(key, buf.Bytes(), out, resp.Header.Revision)
}

// Get implements Interface.
func (s *Store) Get(ctx context.Context, key string, opts GetOptions, out runtime.Object) error {
	if err := checkKey(key); err != nil {
		return err
	}
	minRV, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return err
	}
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if minRV > resp.Header.Revision {
		return tooLargeResourceVersion(key, minRV, resp.Header.Revision)
	}
	if len(resp.Kvs) == 0 {
		if opts.IgnoreNotFound {
			zero(out)
			return nil
		}
		return newError(ErrCodeKeyNotFound, key, 0, "")
	}
	kv := resp.Kvs[0]
	s.cache.observe(resp.Header.Revision)
	if cached := s.cache.get(kv.Key, kv.ModRevision, reflect.TypeOf(out)); cached != nil {
		reflect.ValueOf(out).Elem().Set(reflect.ValueOf(cached.DeepCopyObject()).Elem())
		return nil
	}
	return s.decode(key, kv.Value, out, kv.ModRevision)
}

// objState is an object as last seen in etcd (or as the caller last saw
// it): decoded, its revision, and its stored bytes.
type objState struct {
	obj  runtime.Object
	rev  int64
	data []byte
	// current is true when read from etcd within this call, false when
	// taken from the caller, who may hold a stale copy.
	current bool
}

// stateFromKVs reads the object out of a range response; an absent key
// is a zero object at revision 0 when allowed.
func (s *Store) stateFromKVs(key string, kvs []*mvccpb.KeyValue, like runtime.Object, ignoreNotFound bool) (*objState, error) {
	st := &objState{obj: newLike(like), current: true}
	if len(kvs) == 0 {
		if !ignoreNotFound {
			return nil, newError(ErrCodeKeyNotFound, key, 0, "")
		}
		return st, nil
	}
	st.rev = kvs[0].ModRevision
	st.data = kvs[0].Value
	if err := s.decode(key, st.data, st.obj, st.rev); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Store) readState(ctx context.Context, key string, like runtime.Object, ignoreNotFound bool) (*objState, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return s.stateFromKVs(key, resp.Kvs, like, ignoreNotFound)
}

// guessState reads the object without waiting for etcd to confirm that it
// is the latest (a serializable read): a first guess, as cheap as it gets,
// that the compare-and-swap checks. Only an object that exists makes a
// guess; an absent one is confirmed.
func (s *Store) guessState(ctx context.Context, key string, like runtime.Object, ignoreNotFound bool) (*objState, error) {
	resp, err := s.client.Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return s.readState(ctx, key, like, ignoreNotFound)
	}
	st, err := s.stateFromKVs(key, resp.Kvs, like, ignoreNotFound)
	if err != nil {
		return nil, err
	}
	st.current = false
	return st, nil
}

// callerState uses obj, an object the caller read before, as a first guess
// at the current state and saves a read. A stale guess costs one more
// round trip: the compare-and-swap fails and answers with the current
// object. obj itself is handed to tryUpdate or validate: it is the
// caller's result object, overwritten at the end anyway.
func (s *Store) callerState(obj runtime.Object) (*objState, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	rv, err := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if err != nil || rv <= 0 {
		return nil, false
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := s.encode(obj, buf); err != nil {
		return nil, false
	}
	return &objState{
		obj:  obj,
		rev:  rv,
		data: bytes.Clone(buf.Bytes()),
	}, true
}

// GuaranteedUpdate implements Interface. When dest already holds the object
// with a resourceVersion (the caller read it), that copy is tried first.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool, precond *Preconditions, tryUpdate UpdateFunc) error {
	if err := checkKey(key); err != nil {
		return err
	}
	st, ok := s.callerState(dest)
	if !ok {
		var err error
		if st, err = s.guessState(ctx, key, dest, ignoreNotFound); err != nil {
			return err
		}
	}
	buf := getBuffer()
	defer putBuffer(buf)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := precond.check(key, st.obj, true); err != nil {
			if st.current {
				return err
			}
			if st, err = s.readState(ctx, key, dest, ignoreNotFound); err != nil {
				return err
			}
			continue
		}

		ret, refusal := tryUpdate(st.obj)
		if refusal != nil {
			if st.current {
				return refusal
			}
			// The refusal may come from a stale copy: it stands only if
			// the object did not change.
			staleRev := st.rev
			var err error
			if st, err = s.readState(ctx, key, dest, ignoreNotFound); err != nil {
				return err
			}
			if st.rev == staleRev {
				return refusal
			}
			continue
		}

		buf.Reset()
		if err := s.encode(ret, buf); err != nil {
			return fmt.Errorf("update %s: %w", key, err)
		}
		if st.data != nil && bytes.Equal(buf.Bytes(), st.data) {
			if !st.current {
				// Only etcd can say that nothing needs writing.
				var err error
				if st, err = s.readState(ctx, key, dest, ignoreNotFound); err != nil {
					return err
				}
				if !bytes.Equal(buf.Bytes(), st.data) {
					continue
				}
			}
			return s.decode(key, st.data, dest, st.rev)
		}

		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", st.rev)).
			Then(clientv3.OpPut(key, string(buf.Bytes()))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("update %s: %w", key, err)
		}
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if st, err = s.stateFromKVs(key, kvs, dest, ignoreNotFound); err != nil {
				return err
			}
			continue
		}
		return s.decode(key, buf.Bytes(), dest, resp.Header.Revision)
	}
}

// Delete implements Interface. When out already holds the object with a
// resourceVersion (the caller read it), that copy is checked first.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, precond *Preconditions, validate ValidateDeletion) error {
	if err := checkKey(key); err != nil {
		return err
	}
	st, ok := s.callerState(out)
	if !ok {
		var err error
		if st, err = s.guessState(ctx, key, out, false); err != nil {
			return err
		}
	}
	// recheck rereads a possibly stale state after a refusal; the refusal
	// stands when the object has not changed.
	recheck := func(refusal error) (bool, error) {
		if st.current {
			return false, refusal
		}
		staleRev := st.rev
		var err error
		if st, err = s.readState(ctx, key, out, false); err != nil {
			return false, err
		}
		if st.rev == staleRev {
			return false, refusal
		}
		return true, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := precond.check(key, st.obj, false); err != nil {
			if retry, err := recheck(err); !retry {
				return err
			}
			continue
		}
		if validate != nil {
			if err := validate(ctx, st.obj); err != nil {
				if retry, err := recheck(err); !retry {
					return err
				}
				continue
			}
		}
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", st.rev)).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("delete %s: %w", key, err)
		}
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if st, err = s.stateFromKVs(key, kvs, out, false); err != nil {
				return err
			}
			continue
		}
		s.cache.forget(key)
		return s.decode(key, st.data, out, resp.Header.Revision)
	}
}

// encode writes obj's stored form to buf: without resourceVersion (the
// revision is etcd's) and selfLink, which are put back afterwards.
func (s *Store) encode(obj runtime.Object, buf *bytes.Buffer) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if rv := m.GetResourceVersion(); rv != "" {
		m.SetResourceVersion("")
		defer m.SetResourceVersion(rv)
	}
	if link := m.GetSelfLink(); link != "" {
		m.SetSelfLink("")
		defer m.SetSelfLink(link)
	}
	return s.codec.Encode(obj, buf)
}

// decode fills out from stored bytes and stamps it with rev.
func (s *Store) decode(key string, data []byte, out runtime.Object, rev int64) error {
	zero(out)
	if err := s.codec.Decode(data, out); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return setResourceVersion(out, rev)
}

func setResourceVersion(obj runtime.Object, rev int64) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

// parseResourceVersion reads a resourceVersion parameter; "" is 0.
func parseResourceVersion(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 63)
	if err != nil {
		return 0, badRequest("invalid resource version: %v", err)
	}
	return int64(n), nil
}

// checkKey refuses keys that could climb out of their prefix, as
// kube-apiserver does.
func checkKey(key string) error {
	if key == "" || key == "/" {
		return badRequest("empty key: %q", key)
	}
	for _, seg := range []string{"..", "."} {
		if key == seg || strings.HasPrefix(key, seg+"/") || strings.HasSuffix(key, "/"+seg) || strings.Contains(key, "/"+seg+"/") {
			return badRequest("invalid key: %q", key)
		}
	}
	return nil
}

// interpretReadError names the failures of reads at a fixed revision.
func interpretReadError(err error, key string, rev int64) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return &Error{Code: ErrCodeExpired, Key: key, ResourceVersion: rev, Message: expiredListMsg}
	case errors.Is(err, rpctypes.ErrFutureRev):
		return &Error{Code: ErrCodeTooLargeResourceVersion, Key: key, ResourceVersion: rev,
			Message: fmt.Sprintf("Too large resource version: %d", rev)}
	}
	return err
}
