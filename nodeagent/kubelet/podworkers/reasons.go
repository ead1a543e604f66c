package podworkers

import (
	"sync"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	"k8s.io/apimachinery/pkg/types"
)

// waitingReason is why a container's last start failed.
type waitingReason struct {
	reason, message string
}

// reasonCache remembers, per pod and container, why the last start
// failed, until a start succeeds: the container's waiting reason in the
// status (ErrImagePull, CrashLoopBackOff, ...), as upstream's reason cache.
type reasonCache struct {
	mu sync.Mutex
	m  map[types.UID]map[string]waitingReason
}

func newReasonCache() *reasonCache {
	return &reasonCache{m: map[types.UID]map[string]waitingReason{}}
}

func (c *reasonCache) update(uid types.UID, result kuberuntime.SyncResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range result.Starts {
		if s.Err == nil {
			delete(c.m[uid], s.Container)
			continue
		}
		if c.m[uid] == nil {
			c.m[uid] = map[string]waitingReason{}
		}
		c.m[uid][s.Container] = waitingReason{reason: s.Err.Error(), message: s.Message}
	}
}

func (c *reasonCache) get(uid types.UID, container string) (waitingReason, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[uid][container]
	return r, ok
}

func (c *reasonCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, uid)
}
