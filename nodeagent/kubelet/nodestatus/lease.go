package nodestatus

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LeaseNamespace holds the nodes' heartbeat Leases.
const LeaseNamespace = corev1.NamespaceNodeLease

const (
	// Failing lease calls back off as upstream's lease controller does:
	// from 200ms, doubling, to 7s.
	leaseInitialBackoff = 200 * time.Millisecond
	leaseMaxBackoff     = 7 * time.Second
	// leaseUpdateRetries is how many times one renewal is tried.
	leaseUpdateRetries = 5
)

// renewLease keeps the node's Lease renewed every LeaseRenewInterval until
// ctx is done.
func (m *Manager) renewLease(ctx context.Context) {
	for {
		m.syncLease(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.cfg.Clock.After(m.cfg.LeaseRenewInterval):
		}
	}
}

// syncLease renews the Lease, creating it when missing, as upstream's lease
// controller does: it updates the copy it last wrote without reading it
// first, and reads only when that fails.
func (m *Manager) syncLease(ctx context.Context) {
	if m.latestLease != nil {
		err := m.updateLease(ctx, m.latestLease)
		if err == nil {
			return
		}
		m.cfg.Log.Info("renew node lease from the last copy written failed, reading it", "node", m.cfg.NodeName, "err", err)
	}
	lease, created := m.ensureLease(ctx)
	m.latestLease = lease
	if lease != nil && !created {
		if err := m.updateLease(ctx, lease); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn("renew node lease", "node", m.cfg.NodeName, "err", err)
		}
	}
}

// ensureLease gets the Lease, or creates it, retrying with backoff until it
// succeeds or ctx is done. created tells a Lease just created, which needs
// no renewal.
func (m *Manager) ensureLease(ctx context.Context) (lease *coordinationv1.Lease, created bool) {
	wait := m.leaseBackoff
	for {
		lease, created, err := m.getOrCreateLease(ctx)
		if err == nil {
			return lease, created
		}
		if ctx.Err() != nil {
			return nil, false
		}
		m.cfg.Log.Warn("ensure node lease", "node", m.cfg.NodeName, "err", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			return nil, false
		case <-m.cfg.Clock.After(wait):
		}
		wait = min(2*wait, leaseMaxBackoff)
	}
}

func (m *Manager) getOrCreateLease(ctx context.Context) (*coordinationv1.Lease, bool, error) {
	leases := m.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	lease, err := leases.Get(ctx, m.cfg.NodeName, metav1.GetOptions{})
	if err == nil {
		return lease, false, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, false, fmt.Errorf("get lease %s/%s: %w", LeaseNamespace, m.cfg.NodeName, err)
	}
	fresh, err := m.newLease(ctx, nil)
	if err != nil {
		// Without its owner the Lease would outlive a deleted Node; the
		// next renewal tries again.
		m.cfg.Log.Warn("create node lease", "node", m.cfg.NodeName, "err", err)
		return nil, false, nil
	}
	lease, err = leases.Create(ctx, fresh, metav1.CreateOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("create lease %s/%s: %w", LeaseNamespace, m.cfg.NodeName, err)
	}
	return lease, true, nil
}

// updateLease writes base renewed, re-reading it after a conflict.
func (m *Manager) updateLease(ctx context.Context, base *coordinationv1.Lease) error {
	leases := m.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	var err error
	for range leaseUpdateRetries {
		// A Lease without its owner is still worth renewing.
		renewed, _ := m.newLease(ctx, base)
		var lease *coordinationv1.Lease
		lease, err = leases.Update(ctx, renewed, metav1.UpdateOptions{})
		if err == nil {
			m.latestLease = lease
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if apierrors.IsConflict(err) {
			if base, _ = m.ensureLease(ctx); base == nil {
				return err
			}
		}
	}
	return fmt.Errorf("update lease %s/%s: %d attempts failed, last: %w", LeaseNamespace, m.cfg.NodeName, leaseUpdateRetries, err)
}

// newLease is base, or a new Lease held by the node, renewed now and owned
// by the Node so that it goes when the Node does. The error tells that the
// owner could not be set.
func (m *Manager) newLease(ctx context.Context, base *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	var lease *coordinationv1.Lease
	if base == nil {
		holder := m.cfg.NodeName
		seconds := int32(m.cfg.LeaseDuration / time.Second)
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: m.cfg.NodeName, Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       &holder,
				LeaseDurationSeconds: &seconds,
			},
		}
	} else {
		lease = base.DeepCopy()
	}
	lease.Spec.RenewTime = &metav1.MicroTime{Time: m.cfg.Clock.Now()}
	if len(lease.OwnerReferences) == 0 {
		node, err := m.cfg.Client.CoreV1().Nodes().Get(ctx, m.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return lease, fmt.Errorf("get node %q to own its lease: %w", m.cfg.NodeName, err)
		}
		lease.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: corev1.SchemeGroupVersion.Version,
			Kind:       "Node",
			Name:       m.cfg.NodeName,
			UID:        node.UID,
		}}
	}
	return lease, nil
}
