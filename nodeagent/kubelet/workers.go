package kubelet

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kindish/kindish/nodeagent/criclient"
	"github.com/kindish/kindish/nodeagent/kubelet/dns"
	"github.com/kindish/kindish/nodeagent/kubelet/envvars"
	"github.com/kindish/kindish/nodeagent/kubelet/nodestatus"
	"github.com/kindish/kindish/nodeagent/kubelet/podworkers"
	"github.com/kindish/kindish/nodeagent/kubelet/prober"
	"github.com/kindish/kindish/nodeagent/kubelet/volume"
)

// podWorkersDeps is what the pod workers are built from.
type podWorkersDeps struct {
	o            Options
	cri          *criclient.Client
	client       kubernetes.Interface
	recorder     record.EventRecorder
	services     coreinformers.ServiceInformer
	node         *nodestatus.Manager
	machine      nodestatus.MachineInfo
	mirrorPodFor func(*corev1.Pod) (*corev1.Pod, bool)
}

// newPodWorkers connects the pod workers to the node's volumes,
// environments, DNS and probes.
func newPodWorkers(d podWorkersDeps) (podWorkers, error) {
	o := d.o
	dnsConfig := dns.Config{
		ClusterDNS:     o.ClusterDNS,
		ClusterDomain:  o.ClusterDomain,
		HostResolvConf: o.ResolvConf,
		Events:         d.recorder,
		NodeRef:        &corev1.ObjectReference{Kind: "Node", Name: o.NodeName, UID: types.UID(o.NodeName)},
	}
	env := &envvars.Resolver{
		ConfigMaps:      envvars.APIObjects{Client: d.client},
		Secrets:         envvars.APIObjects{Client: d.client},
		Services:        envvars.InformerServices{Lister: d.services.Lister()},
		ServicesSynced:  d.services.Informer().HasSynced,
		NodeAllocatable: allocatable(d.machine),
		Events:          d.recorder,
	}
	volumes := volume.New(volume.Config{
		RootDir:       o.RootDir,
		Client:        d.client,
		NodeName:      o.NodeName,
		ClusterDomain: o.ClusterDomain,
		Log:           o.Log.With("part", "volumes"),
	})
	var workers *podworkers.Workers
	probes := prober.NewManager(prober.Config{
		Exec:     d.cri.Runtime(),
		Recorder: d.recorder,
		// Never blocks: a result change only marks the pod for a sync.
		OnChange: func(uid types.UID) { workers.Resync(uid) },
		Log:      o.Log.With("part", "probes"),
	})
	workers = podworkers.New(podworkers.Config{
		Runtime:      d.cri.Runtime(),
		Images:       d.cri.Images(),
		Volumes:      volumes,
		Env:          env,
		Probes:       probes,
		DNSConfig:    func(pod *corev1.Pod) (*runtimeapi.DNSConfig, error) { return dns.PodDNS(pod, dnsConfig) },
		Hostname:     dnsConfig.HostnameAndDomain,
		NetworkReady: d.node.NetworkError,
		Client:       d.client,
		Recorder:     d.recorder,
		NodeName:     o.NodeName,
		NodeIP:       o.NodeIP,
		MirrorPodFor: d.mirrorPodFor,
		PodLogsDir:   o.PodLogsDir,
		Log:          o.Log.With("part", "pods"),
	})
	return workers, nil
}

// allocatable is what a container without limits sees as its limits in
// the downward API: the whole node, as allocatable is here.
func allocatable(m nodestatus.MachineInfo) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.NumCPU), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.EphemeralStorageBytes, resource.BinarySI),
	}
}
