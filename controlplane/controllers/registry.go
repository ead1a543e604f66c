package controllers

import (
	"context"
	"errors"
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/controllers/cronjob"
	"github.com/kindish/kindish/controlplane/controllers/daemonset"
	"github.com/kindish/kindish/controlplane/controllers/deployment"
	"github.com/kindish/kindish/controlplane/controllers/endpoints"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice/mirroring"
	"github.com/kindish/kindish/controlplane/controllers/garbagecollector"
	"github.com/kindish/kindish/controlplane/controllers/job"
	"github.com/kindish/kindish/controlplane/controllers/namespace"
	"github.com/kindish/kindish/controlplane/controllers/nodeipam"
	"github.com/kindish/kindish/controlplane/controllers/nodelifecycle"
	"github.com/kindish/kindish/controlplane/controllers/nodelifecycle/tainteviction"
	"github.com/kindish/kindish/controlplane/controllers/podgc"
	"github.com/kindish/kindish/controlplane/controllers/replicaset"
	"github.com/kindish/kindish/controlplane/controllers/resourcequota"
	"github.com/kindish/kindish/controlplane/controllers/rootcacert"
	"github.com/kindish/kindish/controlplane/controllers/serviceaccount"
	"github.com/kindish/kindish/controlplane/controllers/statefulset"
	"github.com/kindish/kindish/controlplane/controllers/ttlafterfinished"
)

// Runner runs a built controller until ctx ends.
type Runner func(ctx context.Context)

// InitFunc builds a controller: it registers the controller's informers
// on the shared factory and returns what runs it, or nil when the
// options leave it off. It must not start anything: the manager starts
// the factory once every controller is built.
type InitFunc func(ctx context.Context, cc ControllerContext) (Runner, error)

// ControllerContext is what the manager gives a controller.
type ControllerContext struct {
	// Name is the controller's canonical name.
	Name string
	// Client acts as the controller: as its ServiceAccount with
	// UseServiceAccountCredentials, as the manager otherwise.
	Client kubernetes.Interface
	// Config is Client's configuration, for the metadata or dynamic
	// clients a controller may need as the same identity.
	Config *rest.Config
	// InformerFactory is shared by every controller and reads as the
	// manager, as upstream's shared informers do.
	InformerFactory informers.SharedInformerFactory
	Options         Options
	// Recorder records events through Client, with the descriptor's
	// EventComponent as their source.
	Recorder record.EventRecorder
	// RootCA is the cluster CA bundle: RootCAFile, or the kubeconfig's.
	RootCA []byte
	Log    *slog.Logger
}

// Descriptor is one of upstream's controllers as --controllers knows it.
type Descriptor struct {
	// Name is upstream's canonical name; Aliases are its older names.
	Name    string
	Aliases []string
	// DisabledByDefault controllers run only when named.
	DisabledByDefault bool
	// ServiceAccount is the account in kube-system the controller acts
	// as with UseServiceAccountCredentials, upstream's, bound by the API
	// server's bootstrap policy to system:controller:<account>.
	ServiceAccount string
	// EventComponent is the source of its events, upstream's.
	EventComponent string
	// Init builds it; nil means kindish does not implement it, and Note
	// says what that means.
	Init InitFunc
	Note string
}

// notImplemented is the note of controllers kindish lacks.
const notImplemented = "not implemented in kindish"

// KnownControllers is upstream's controller list, in upstream's order of
// names. Adding a controller is setting Init (and, if it differs from
// upstream's, ServiceAccount) on its line.
func KnownControllers() []Descriptor {
	return []Descriptor{
		{Name: "bootstrap-signer-controller", Aliases: []string{"bootstrapsigner"}, DisabledByDefault: true, ServiceAccount: "bootstrap-signer",
			Note: "accepted and does nothing: kindish joins nodes without bootstrap tokens"},
		{Name: "certificatesigningrequest-approving-controller", Aliases: []string{"csrapproving"}, ServiceAccount: "certificate-controller", Note: notImplemented},
		{Name: "certificatesigningrequest-cleaner-controller", Aliases: []string{"csrcleaner"}, ServiceAccount: "certificate-controller", Note: notImplemented},
		{Name: "certificatesigningrequest-signing-controller", Aliases: []string{"csrsigning"}, ServiceAccount: "certificate-controller", Note: notImplemented},
		{Name: "cloud-node-lifecycle-controller", Aliases: []string{"cloud-node-lifecycle"}, Note: "no cloud provider"},
		{Name: "clusterrole-aggregation-controller", Aliases: []string{"clusterrole-aggregation"}, ServiceAccount: "clusterrole-aggregation-controller", Note: notImplemented},
		{Name: cronjob.Name, Aliases: []string{"cronjob"}, ServiceAccount: "cronjob-controller", EventComponent: cronjob.EventComponent, Init: startCronJobController},
		{Name: daemonset.Name, Aliases: []string{"daemonset"}, ServiceAccount: "daemon-set-controller", EventComponent: daemonset.EventComponent, Init: startDaemonSetController},
		{Name: deployment.Name, Aliases: []string{"deployment"}, ServiceAccount: "deployment-controller", EventComponent: deployment.EventComponent, Init: startDeploymentController},
		{Name: "disruption-controller", Aliases: []string{"disruption"}, ServiceAccount: "disruption-controller", Note: notImplemented},
		{Name: endpoints.Name, Aliases: []string{"endpoint"}, ServiceAccount: "endpoint-controller", EventComponent: endpoints.EventComponent, Init: startEndpointsController},
		{Name: endpointslice.Name, Aliases: []string{"endpointslice"}, ServiceAccount: "endpointslice-controller", EventComponent: endpointslice.EventComponent, Init: startEndpointSliceController},
		{Name: mirroring.Name, Aliases: []string{"endpointslicemirroring"}, ServiceAccount: "endpointslicemirroring-controller", EventComponent: mirroring.EventComponent, Init: startEndpointSliceMirroringController},
		{Name: "ephemeral-volume-controller", Aliases: []string{"ephemeral-volume"}, ServiceAccount: "ephemeral-volume-controller", Note: notImplemented},
		{Name: garbagecollector.Name, Aliases: []string{"garbagecollector"}, ServiceAccount: "generic-garbage-collector", EventComponent: garbagecollector.Name, Init: startGarbageCollector},
		{Name: "horizontal-pod-autoscaler-controller", Aliases: []string{"horizontalpodautoscaling"}, ServiceAccount: "horizontal-pod-autoscaler", Note: notImplemented},
		{Name: job.Name, Aliases: []string{"job"}, ServiceAccount: "job-controller", EventComponent: job.EventComponent, Init: startJobController},
		{Name: "legacy-serviceaccount-token-cleaner-controller", Aliases: []string{"legacy-service-account-token-cleaner"}, ServiceAccount: "legacy-service-account-token-cleaner", Note: notImplemented},
		{Name: namespace.Name, Aliases: []string{"namespace"}, ServiceAccount: "namespace-controller", Init: startNamespaceController},
		{Name: nodeipam.Name, Aliases: []string{"nodeipam"}, ServiceAccount: "node-controller", EventComponent: nodeipam.EventComponent, Init: startNodeIPAM},
		{Name: nodelifecycle.Name, Aliases: []string{"nodelifecycle"}, ServiceAccount: "node-controller", EventComponent: nodelifecycle.EventComponent, Init: startNodeLifecycle},
		{Name: "node-route-controller", Aliases: []string{"route"}, Note: "no cloud provider: kindnetd programs the routes"},
		{Name: "persistentvolume-attach-detach-controller", Aliases: []string{"attachdetach"}, ServiceAccount: "attachdetach-controller", Note: notImplemented},
		{Name: "persistentvolume-binder-controller", Aliases: []string{"persistentvolume-binder"}, ServiceAccount: "persistent-volume-binder", Note: notImplemented},
		{Name: "persistentvolume-expander-controller", Aliases: []string{"persistentvolume-expander"}, ServiceAccount: "expand-controller", Note: notImplemented},
		{Name: "persistentvolume-protection-controller", Aliases: []string{"pv-protection"}, ServiceAccount: "pv-protection-controller", Note: notImplemented},
		{Name: "persistentvolumeclaim-protection-controller", Aliases: []string{"pvc-protection"}, ServiceAccount: "pvc-protection-controller", Note: notImplemented},
		{Name: podgc.Name, Aliases: []string{"podgc"}, ServiceAccount: "pod-garbage-collector", EventComponent: podgc.Name, Init: startPodGCController},
		{Name: replicaset.Name, Aliases: []string{"replicaset"}, ServiceAccount: "replicaset-controller", EventComponent: replicaset.EventComponent, Init: startReplicaSetController},
		{Name: replicaset.ReplicationControllerName, Aliases: []string{"replicationcontroller"}, ServiceAccount: "replication-controller", EventComponent: replicaset.ReplicationControllerEventComponent, Init: startReplicationController},
		{Name: "resourceclaim-controller", Aliases: []string{"resource-claim-controller"}, ServiceAccount: "resource-claim-controller", Note: notImplemented},
		{Name: resourcequota.Name, Aliases: []string{"resourcequota"}, ServiceAccount: "resourcequota-controller", EventComponent: resourcequota.Name, Init: startResourceQuotaController},
		{Name: rootcacert.Name, Aliases: []string{"root-ca-cert-publisher"}, ServiceAccount: "root-ca-cert-publisher", Init: startRootCACertPublisher},
		{Name: "service-cidr-controller", Note: notImplemented},
		{Name: "service-lb-controller", Aliases: []string{"service"}, Note: "no cloud provider"},
		{Name: serviceaccount.Name, Aliases: []string{"serviceaccount"}, ServiceAccount: "service-account-controller", Init: startServiceAccountController},
		{Name: "serviceaccount-token-controller", Aliases: []string{"serviceaccount-token"}, Note: "accepted and does nothing: pods get bound tokens from TokenRequest, not Secrets"},
		{Name: statefulset.Name, Aliases: []string{"statefulset"}, ServiceAccount: "statefulset-controller", EventComponent: statefulset.EventComponent, Init: startStatefulSetController},
		{Name: "storage-version-migrator-controller", Note: notImplemented},
		{Name: "storageversion-garbage-collector-controller", Aliases: []string{"storage-version-gc"}, Note: notImplemented},
		// Upstream's account is taint-eviction-controller; kindish's
		// bootstrap policy has no role for it yet, and node-controller's
		// role grants what eviction needs.
		{Name: tainteviction.Name, ServiceAccount: "node-controller", EventComponent: tainteviction.Name, Init: startTaintEviction},
		{Name: "token-cleaner-controller", Aliases: []string{"tokencleaner"}, DisabledByDefault: true, ServiceAccount: "token-cleaner",
			Note: "accepted and does nothing: kindish issues no bootstrap tokens to clean"},
		{Name: ttlafterfinished.Name, Aliases: []string{"ttl-after-finished"}, ServiceAccount: "ttl-after-finished-controller", EventComponent: ttlafterfinished.Name, Init: startTTLAfterFinishedController},
		{Name: "ttl-controller", Aliases: []string{"ttl"}, ServiceAccount: "ttl-controller", Note: notImplemented},
		{Name: "validatingadmissionpolicy-status-controller", ServiceAccount: "validatingadmissionpolicy-status-controller", Note: notImplemented},
	}
}

func startServiceAccountController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := serviceaccount.New(cc.Client, cc.InformerFactory, cc.Log)
	return func(ctx context.Context) { c.Run(ctx, 1) }, nil
}

func startRootCACertPublisher(_ context.Context, cc ControllerContext) (Runner, error) {
	if len(cc.RootCA) == 0 {
		return nil, errors.New("no root CA: set --root-ca-file or a CA in the kubeconfig")
	}
	c := rootcacert.New(cc.Client, cc.InformerFactory, cc.RootCA, cc.Log)
	return func(ctx context.Context) { c.Run(ctx, 1) }, nil
}

func startNodeIPAM(_ context.Context, cc ControllerContext) (Runner, error) {
	if !cc.Options.AllocateNodeCIDRs {
		return nil, nil
	}
	cfg := nodeipam.Config{NodeMaskSizeIPv4: cc.Options.NodeCIDRMaskSize, Log: cc.Log}
	var err error
	if cfg.ClusterCIDRs, err = parseCIDRs(cc.Options.ClusterCIDR); err != nil {
		return nil, err
	}
	if cc.Options.ServiceClusterIPRange != "" {
		if cfg.ServiceCIDRs, err = parseCIDRs(cc.Options.ServiceClusterIPRange); err != nil {
			return nil, err
		}
	}
	c, err := nodeipam.New(cc.Client, cc.InformerFactory, cc.Recorder, cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) { c.Run(ctx, 2) }, nil
}

func startNodeLifecycle(_ context.Context, cc ControllerContext) (Runner, error) {
	c := nodelifecycle.New(cc.Client, cc.InformerFactory, cc.Recorder, nodelifecycle.Config{
		MonitorPeriod:      cc.Options.NodeMonitorPeriod,
		GracePeriod:        cc.Options.NodeMonitorGracePeriod,
		StartupGracePeriod: cc.Options.NodeStartupGracePeriod,
		Clock:              cc.Options.Clock,
		Log:                cc.Log,
	})
	return func(ctx context.Context) { c.Run(ctx, 2) }, nil
}

func startTaintEviction(_ context.Context, cc ControllerContext) (Runner, error) {
	c := tainteviction.New(cc.Client, cc.InformerFactory, cc.Recorder, tainteviction.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 4) }, nil
}

func startGarbageCollector(_ context.Context, cc ControllerContext) (Runner, error) {
	meta, err := metadata.NewForConfig(cc.Config)
	if err != nil {
		return nil, err
	}
	c := garbagecollector.New(cc.Client, cc.InformerFactory, meta, cc.Recorder, cc.Log)
	return func(ctx context.Context) { c.Run(ctx, 4) }, nil
}

func startNamespaceController(_ context.Context, cc ControllerContext) (Runner, error) {
	meta, err := metadata.NewForConfig(cc.Config)
	if err != nil {
		return nil, err
	}
	c := namespace.New(cc.Client, cc.InformerFactory, meta, cc.Log)
	return func(ctx context.Context) { c.Run(ctx, 2) }, nil
}

func startDaemonSetController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := daemonset.New(cc.Client, cc.InformerFactory, cc.Recorder, daemonset.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 2) }, nil
}

func startStatefulSetController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := statefulset.New(cc.Client, cc.InformerFactory, cc.Recorder, statefulset.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startDeploymentController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := deployment.New(cc.Client, cc.InformerFactory, cc.Recorder, deployment.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startReplicaSetController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := replicaset.New(cc.Client, cc.InformerFactory, cc.Recorder, replicaset.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startReplicationController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := replicaset.NewForReplicationControllers(cc.Client, cc.InformerFactory, cc.Recorder, replicaset.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startEndpointsController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := endpoints.New(cc.Client, cc.InformerFactory, cc.Recorder, endpoints.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startEndpointSliceController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := endpointslice.New(cc.Client, cc.InformerFactory, cc.Recorder, endpointslice.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startEndpointSliceMirroringController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := mirroring.New(cc.Client, cc.InformerFactory, cc.Recorder, mirroring.Config{Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startJobController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := job.New(cc.Client, cc.InformerFactory, cc.Recorder, job.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startCronJobController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := cronjob.New(cc.Client, cc.InformerFactory, cc.Recorder, cronjob.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startTTLAfterFinishedController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := ttlafterfinished.New(cc.Client, cc.InformerFactory, ttlafterfinished.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}

func startPodGCController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := podgc.New(cc.Client, cc.InformerFactory, podgc.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 1) }, nil
}

func startResourceQuotaController(_ context.Context, cc ControllerContext) (Runner, error) {
	c := resourcequota.New(cc.Client, cc.InformerFactory, resourcequota.Config{Clock: cc.Options.Clock, Log: cc.Log})
	return func(ctx context.Context) { c.Run(ctx, 5) }, nil
}
