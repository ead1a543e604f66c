package podworkers

import (
	"context"
	"sort"
	"strings"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	"k8s.io/apimachinery/pkg/types"
)

// relist lists the runtime's sandboxes and containers and wakes the worker
// of every pod whose objects appeared, vanished or changed state since the
// last relist, as upstream's generic PLEG: a container that exits is
// noticed within a relist period, not at the next resync.
func (w *Workers) relist(ctx context.Context) {
	pods, err := w.runtime.ListPods(ctx)
	if err != nil {
		w.log.Warn("Relist failed", "err", err)
		return
	}
	current := make(map[types.UID]string, len(pods))
	for uid, p := range pods {
		current[uid] = fingerprint(p)
	}
	var changed []types.UID
	for uid, fp := range current {
		if w.lastRelist[uid] != fp {
			changed = append(changed, uid)
		}
	}
	for uid := range w.lastRelist {
		if _, ok := current[uid]; !ok {
			changed = append(changed, uid)
		}
	}
	w.lastRelist = current
	for _, uid := range changed {
		w.Resync(uid)
	}
}

// fingerprint is a pod's runtime objects and their states, in a stable
// order.
func fingerprint(p *kuberuntime.RuntimePod) string {
	var parts []string
	for _, s := range p.Sandboxes {
		parts = append(parts, "s/"+s.ID+"/"+s.State)
	}
	for _, c := range p.Containers {
		parts = append(parts, "c/"+c.ID+"/"+c.State)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
