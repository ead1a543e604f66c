package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

// maxPageSize caps how far a filtered list grows its etcd pages while it
// looks for enough matches; kube-apiserver's figure.
const maxPageSize = 10000

// GetList implements Interface. The semantics are kube-apiserver's reading
// from etcd:
//
//   - Continue resumes at the revision of the first page (ResourceVersion
//     must then be "" or "0"); once etcd has compacted it, the error is
//     Expired and carries a token that resumes at the latest revision.
//   - ResourceVersionMatch Exact, or a resourceVersion with a Limit and no
//     match (the legacy form), reads at exactly that revision.
//   - Otherwise the latest state is read, and it must be at least
//     ResourceVersion.
//   - With a Limit and a selective predicate, pages are fetched until Limit
//     objects matched or the prefix is exhausted; RemainingItemCount is set
//     only when every object counts (empty predicate).
//
// Objects the store's cache holds at their current revision are copied
// instead of being transferred and decoded again; the others are decoded
// on all CPUs. Either way the items are the caller's own.
func (s *Store) GetList(ctx context.Context, prefix string, opts ListOptions, list kruntime.Object) error {
	if err := checkKey(prefix); err != nil {
		return err
	}
	// A prefix names children only: "/registry/pods/a" must not list
	// "/registry/pods/ab".
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	itemsPtr, err := meta.GetItemsPtr(list)
	if err != nil {
		return err
	}
	items, err := conversion.EnforcePtr(itemsPtr)
	if err != nil || items.Kind() != reflect.Slice {
		return fmt.Errorf("list %s: %T has no Items slice", prefix, list)
	}
	listMeta, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}

	pred := opts.Predicate
	limit := pred.Limit
	paging := limit > 0
	rv, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return err
	}

	startKey := prefix
	var withRev, minRV int64
	continuing := pred.Continue != ""
	switch {
	case continuing:
		if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			return badRequest("specifying resource version is not allowed when using continue")
		}
		key, continueRV, err := decodeContinue(pred.Continue, prefix)
		if err != nil {
			return badRequest("invalid continue token: %v", err)
		}
		startKey = key
		// A negative revision (from an expired token's replacement) means
		// the latest.
		if continueRV > 0 {
			withRev = continueRV
		}
	default:
		switch opts.ResourceVersionMatch {
		case metav1.ResourceVersionMatchNotOlderThan:
			minRV = rv
		case metav1.ResourceVersionMatchExact:
			if rv == 0 {
				return badRequest("resourceVersionMatch %q is forbidden for resourceVersion %q", opts.ResourceVersionMatch, opts.ResourceVersion)
			}
			withRev = rv
		case "":
			if paging && rv > 0 {
				withRev = rv
			} else {
				minRV = rv
			}
		default:
			return badRequest("unknown ResourceVersionMatch value: %v", opts.ResourceVersionMatch)
		}
	}

	match := pred.matcher()
	// A fresh slice: the caller's old items may be shared.
	if match == nil && paging {
		items.Set(reflect.MakeSlice(items.Type(), 0, int(min(limit, maxPageSize))))
	} else {
		items.Set(reflect.MakeSlice(items.Type(), 0, 0))
	}
	dec := &listDecoder{s: s, items: items, match: match, limit: limit}

	rangeEnd := clientv3.GetPrefixRangeEnd(prefix)
	pageSize := limit
	var resp *clientv3.GetResponse
	var hasMore bool
	for retries := 0; ; {
		var cached []kruntime.Object
		resp, cached, err = s.readPage(ctx, startKey, rangeEnd, pageSize, withRev, dec.itemType())
		if err != nil {
			// Values are read after keys, at the keys' revision: a
			// compaction in between only means starting again at the
			// latest, if that is what was asked.
			if errors.Is(err, rpctypes.ErrCompacted) && withRev == 0 && retries < 3 {
				retries++
				continue
			}
			return interpretListError(err, prefix, withRev, continuing, startKey)
		}
		if minRV > resp.Header.Revision {
			return tooLargeResourceVersion(prefix, minRV, resp.Header.Revision)
		}
		if len(resp.Kvs) == 0 && resp.More {
			return fmt.Errorf("list %s: etcd returned no objects but said there were more", prefix)
		}
		hasMore = resp.More
		full, err := dec.add(resp.Kvs, cached)
		if err != nil {
			return err
		}
		if full {
			hasMore = true
		}
		if !hasMore || !paging || int64(items.Len()) >= limit {
			break
		}
		// The predicate dropped objects: ask for more at a time, at the
		// same revision, after the last key seen.
		pageSize = min(pageSize*2, maxPageSize)
		startKey = string(dec.lastKey) + "\x00"
		if withRev == 0 {
			withRev = resp.Header.Revision
		}
	}
	if withRev == 0 {
		withRev = resp.Header.Revision
	}

	listMeta.SetResourceVersion(strconv.FormatInt(withRev, 10))
	listMeta.SetContinue("")
	listMeta.SetRemainingItemCount(nil)
	if hasMore {
		next, err := encodeContinue(string(dec.lastKey)+"\x00", prefix, withRev)
		if err != nil {
			return err
		}
		listMeta.SetContinue(next)
		// etcd counts everything left in the range, matching or not.
		if match == nil {
			remaining := resp.Count - int64(len(resp.Kvs))
			listMeta.SetRemainingItemCount(&remaining)
		}
	}
	return nil
}

// readPage reads one page of a list. When the cache likely knows most of
// the objects, it asks etcd for keys and revisions only, then for the values
// the cache lacks, at the same revision; otherwise for everything at once.
// cached has, for each key-value, the cached object or nil (the value is
// then filled in).
func (s *Store) readPage(ctx context.Context, startKey, rangeEnd string, limit, rev int64, itemType reflect.Type) (*clientv3.GetResponse, []kruntime.Object, error) {
	opts := []clientv3.OpOption{clientv3.WithRange(rangeEnd)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	keysFirst := s.cache.keysFirst()
	if keysFirst {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	resp, err := s.client.Get(ctx, startKey, opts...)
	if err != nil {
		return nil, nil, err
	}
	if s.cache == nil {
		return resp, make([]kruntime.Object, len(resp.Kvs)), nil
	}
	s.cache.observe(resp.Header.Revision)
	cached := make([]kruntime.Object, len(resp.Kvs))
	var missing []int
	for i, kv := range resp.Kvs {
		if cached[i] = s.cache.get(kv.Key, kv.ModRevision, itemType); cached[i] == nil {
			missing = append(missing, i)
		}
	}
	s.cache.noteHits(len(resp.Kvs)-len(missing), len(resp.Kvs))
	if keysFirst && len(missing) > 0 {
		if rev == 0 {
			rev = resp.Header.Revision
		}
		if err := s.fillValues(ctx, resp.Kvs, missing, rev); err != nil {
			return nil, nil, err
		}
	}
	return resp, cached, nil
}

// maxTxnGets stays well under etcd's default limit of 128 operations per
// transaction.
const maxTxnGets = 64

// fillValues reads the values of kvs[missing] at rev: a few by name in one
// transaction, many with one range from the first to the last.
func (s *Store) fillValues(ctx context.Context, kvs []*mvccpb.KeyValue, missing []int, rev int64) error {
	changed := func(kv *mvccpb.KeyValue) error {
		return fmt.Errorf("list: %s is not at revision %d when read again at %d", kv.Key, kv.ModRevision, rev)
	}
	if len(missing) <= maxTxnGets {
		ops := make([]clientv3.Op, len(missing))
		for j, i := range missing {
			ops[j] = clientv3.OpGet(string(kvs[i].Key), clientv3.WithRev(rev))
		}
		resp, err := s.client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return err
		}
		for j, i := range missing {
			got := resp.Responses[j].GetResponseRange().GetKvs()
			if len(got) != 1 || got[0].ModRevision != kvs[i].ModRevision {
				return changed(kvs[i])
			}
			kvs[i].Value = got[0].Value
		}
		return nil
	}
	first, last := kvs[missing[0]].Key, kvs[missing[len(missing)-1]].Key
	resp, err := s.client.Get(ctx, string(first), clientv3.WithRange(string(last)+"\x00"), clientv3.WithRev(rev))
	if err != nil {
		return err
	}
	// Both are in key order.
	j := 0
	for _, i := range missing {
		for j < len(resp.Kvs) && bytes.Compare(resp.Kvs[j].Key, kvs[i].Key) < 0 {
			j++
		}
		if j == len(resp.Kvs) || !bytes.Equal(resp.Kvs[j].Key, kvs[i].Key) || resp.Kvs[j].ModRevision != kvs[i].ModRevision {
			return changed(kvs[i])
		}
		kvs[i].Value = resp.Kvs[j].Value
	}
	return nil
}

func interpretListError(err error, prefix string, rev int64, continuing bool, startKey string) error {
	if !errors.Is(err, rpctypes.ErrCompacted) {
		return interpretReadError(err, prefix, rev)
	}
	if !continuing {
		return &Error{Code: ErrCodeExpired, Key: prefix, ResourceVersion: rev, Message: expiredListMsg}
	}
	// Offer to go on at the latest revision, as kube-apiserver does; -1
	// tells that token from a malformed one.
	next, encErr := encodeContinue(startKey, prefix, -1)
	if encErr != nil {
		return &Error{Code: ErrCodeExpired, Key: prefix, ResourceVersion: rev, Message: expiredContinueMsg}
	}
	return &Error{Code: ErrCodeExpired, Key: prefix, ResourceVersion: rev, Message: inconsistentContinueMsg, Continue: next}
}

// listDecoder decodes pages of key-values straight into a list's Items,
// several at a time, keeping those the predicate selects until the limit.
type listDecoder struct {
	s     *Store
	items reflect.Value // the Items slice, settable
	match func(kruntime.Object) bool
	limit int64
	// lastKey is the last key taken into account: the next page, or the
	// continue token, starts after it.
	lastKey []byte
}

// decodeChunk bounds the slots decoded ahead of the predicate.
const decodeChunk = 1024

// itemType is the pointer type of the list's items, as the cache holds
// them.
func (d *listDecoder) itemType() reflect.Type {
	if t := d.items.Type().Elem(); t.Kind() != reflect.Pointer {
		return reflect.PointerTo(t)
	} else {
		return t
	}
}

// add puts kvs into the list: copies of the cached objects, the others
// decoded. It reports full when the limit was reached before the end of
// kvs.
func (d *listDecoder) add(kvs []*mvccpb.KeyValue, cached []kruntime.Object) (full bool, err error) {
	for len(kvs) > 0 {
		n := min(len(kvs), decodeChunk)
		full, err := d.addChunk(kvs[:n], cached[:n])
		if err != nil || full {
			return full, err
		}
		// Let the page's memory go as it is consumed.
		clear(kvs[:n])
		kvs, cached = kvs[n:], cached[n:]
	}
	return false, nil
}

func (d *listDecoder) addChunk(kvs []*mvccpb.KeyValue, cached []kruntime.Object) (bool, error) {
	v := d.items
	base := v.Len()
	if need := base + len(kvs); need > v.Cap() {
		grown := reflect.MakeSlice(v.Type(), base, max(need, 2*v.Cap()))
		reflect.Copy(grown, v)
		v.Set(grown)
	}
	v.SetLen(base + len(kvs))

	elemType := v.Type().Elem()
	ptrElems := elemType.Kind() == reflect.Pointer
	selected := make([]bool, len(kvs))
	errs := make([]error, len(kvs))
	decodeOne := func(i int) {
		slot := v.Index(base + i)
		kv := kvs[i]
		if c := cached[i]; c != nil {
			// Items may be changed by their receiver: never the
			// cache's own.
			copied := reflect.ValueOf(c.DeepCopyObject())
			if ptrElems {
				slot.Set(copied)
			} else {
				slot.Set(copied.Elem())
			}
			selected[i] = d.match == nil || d.match(c)
			return
		}
		var obj kruntime.Object
		if ptrElems {
			p := reflect.New(elemType.Elem())
			slot.Set(p)
			obj, _ = p.Interface().(kruntime.Object)
		} else {
			obj, _ = slot.Addr().Interface().(kruntime.Object)
		}
		if obj == nil {
			errs[i] = fmt.Errorf("list item type %s is not an API object", elemType)
			return
		}
		if err := d.s.decode(string(kv.Key), kv.Value, obj, kv.ModRevision); err != nil {
			errs[i] = err
			return
		}
		if d.s.cache != nil {
			d.s.cache.put(string(kv.Key), kv.ModRevision, len(kv.Value), obj.DeepCopyObject())
		}
		selected[i] = d.match == nil || d.match(obj)
	}
	parallel(len(kvs), decodeOne)

	// Keep the selected objects in key order, up to the limit, and move
	// the others to the tail to be cleared.
	swap := reflect.Swapper(v.Interface())
	kept := base
	full := false
	for i := range kvs {
		if d.limit > 0 && int64(kept) >= d.limit {
			full = true
			break
		}
		if errs[i] != nil {
			v.SetLen(base)
			return false, errs[i]
		}
		d.lastKey = kvs[i].Key
		if selected[i] {
			if kept != base+i {
				swap(kept, base+i)
			}
			kept++
		}
	}
	for i := kept; i < base+len(kvs); i++ {
		v.Index(i).SetZero()
	}
	v.SetLen(kept)
	return full, nil
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines: decoding is
// most of a large list's cost, and each object decodes on its own.
func parallel(n int, fn func(i int)) {
	const minPerWorker = 32
	workers := min(runtime.GOMAXPROCS(0), n/minPerWorker)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// continueToken is kube-apiserver's continue format, which clients keep
// opaque but which must survive an API server restart or upgrade.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

const continueTokenVersion = "meta.k8s.io/v1"

func encodeContinue(key, prefix string, rev int64) (string, error) {
	next := strings.TrimPrefix(key, prefix)
	if next == key {
		return "", fmt.Errorf("encode continue token: key %q is not under %q", key, prefix)
	}
	out, err := json.Marshal(&continueToken{APIVersion: continueTokenVersion, ResourceVersion: rev, StartKey: next})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(out), nil
}

func decodeContinue(token, prefix string) (key string, rev int64, err error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	var c continueToken
	if err := json.Unmarshal(data, &c); err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	if c.APIVersion != continueTokenVersion {
		return "", 0, fmt.Errorf("continue key is not valid: server does not recognize this encoded version %v", c.APIVersion)
	}
	if c.ResourceVersion == 0 {
		return "", 0, errors.New("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if c.StartKey == "" {
		return "", 0, errors.New("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
	}
	// The start key must not climb above the prefix.
	start := c.StartKey
	if !strings.HasPrefix(start, "/") {
		start = "/" + start
	}
	if path.Clean(start) != start {
		return "", 0, fmt.Errorf("continue key is not valid: %v", c.StartKey)
	}
	return prefix + start[1:], c.ResourceVersion, nil
}
