package staticpod

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
	"github.com/kindish/kindish/controlplane/apiserver/registry/validation"
)

// DefaultDir is where kubeadm, and kindish, put a node's static pod
// manifests.
const DefaultDir = "/etc/kubernetes/manifests"

// maxManifestBytes is upstream's limit on one manifest (maxConfigLength).
const maxManifestBytes = 10 << 20

// manifestExtensions are the names read as manifests. Editors and tools
// leave backups beside the files they change (etcd.yaml~, etcd.yaml.orig);
// read as pods, they would fight the real one over its name.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

// Load reads every manifest in dir once and returns its static pods,
// completed for nodeName as the kubelet runs them, in file name order.
// A file that cannot be read, decoded or validated is skipped and reported
// in errs, which name it; the other files still load. A missing dir holds
// no pods: worker nodes may have none.
func Load(dir, nodeName string) (pods []*corev1.Pod, errs []error) {
	now := time.Now().Format(RFC3339NanoFixed)
	return load(dir, nodeName, func(types.UID) string { return now })
}

// load is Load with the config.seen stamp given by firstSeen, so that a
// watcher keeps the time each pod was first seen across reads.
func load(dir, nodeName string, firstSeen func(types.UID) string) ([]*corev1.Pod, []error) {
	files, err := manifestFiles(dir)
	if err != nil {
		return nil, []error{err}
	}
	var (
		pods []*corev1.Pod
		errs []error
		// Upstream keys its store by namespace/name, so the last file
		// that names a pod wins; the earlier ones are reported here.
		fileOf = map[string]string{}
		index  = map[string]int{}
	)
	for _, path := range files {
		pod, err := readManifest(path, nodeName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pod == nil {
			continue
		}
		pod.Annotations[ConfigSourceAnnotationKey] = FileSource
		pod.Annotations[ConfigFirstSeenAnnotationKey] = firstSeen(pod.UID)
		key := pod.Namespace + "/" + pod.Name
		if i, dup := index[key]; dup {
			errs = append(errs, fmt.Errorf("static pod manifest %s: pod %s is also defined in %s, which it replaces", path, key, fileOf[key]))
			pods[i] = pod
			fileOf[key] = path
			continue
		}
		index[key] = len(pods)
		fileOf[key] = path
		pods = append(pods, pod)
	}
	return pods, errs
}

// manifestFiles lists the manifests in dir, sorted. Dotfiles are left out
// as upstream does: they are editors' swap files and Kubernetes' own
// atomic-writer directories (..data).
func manifestFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read static pod directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if isManifestName(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	return files, nil
}

func isManifestName(name string) bool {
	return !strings.HasPrefix(name, ".") && slices.Contains(manifestExtensions, strings.ToLower(filepath.Ext(name)))
}

// readManifest reads one manifest and completes its pod. A path that is not
// a regular file (a directory, say), or that was removed since the listing,
// gives neither pod nor error, as upstream.
func readManifest(path, nodeName string) (*corev1.Pod, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("static pod manifest %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil
	}
	data, err := readAtMost(path, maxManifestBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("static pod manifest %s: %w", path, err)
	}
	pod, err := decodePod(data)
	if err != nil {
		return nil, fmt.Errorf("static pod manifest %s: %w, please check config file", path, err)
	}
	if pod.Name == "" {
		return nil, fmt.Errorf("static pod manifest %s: invalid pod: name is needed for the pod", path)
	}
	// Upstream's decoder applies the API's defaults; the hash below, and so
	// the UID, covers them, as upstream's does.
	defaults.Pod(pod)
	if err := complete(pod, path, nodeName); err != nil {
		return nil, fmt.Errorf("static pod manifest %s: %w", path, err)
	}
	if errs := validatePod(pod); len(errs) > 0 {
		return nil, fmt.Errorf("static pod manifest %s: invalid pod: %w", path, errs.ToAggregate())
	}
	return pod, nil
}

func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// decodePod decodes YAML or JSON into a v1 Pod. As with upstream's decoder,
// apiVersion and kind are required and unknown fields are ignored.
func decodePod(data []byte) (*corev1.Pod, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("couldn't parse as pod(%w)", err)
	}
	if tm.Kind == "" {
		return nil, errors.New("couldn't parse as pod(Object 'Kind' is missing)")
	}
	if tm.APIVersion != "v1" || tm.Kind != "Pod" {
		return nil, fmt.Errorf("couldn't parse as pod(invalid pod: apiVersion %q, kind %q)", tm.APIVersion, tm.Kind)
	}
	pod := &corev1.Pod{}
	if err := yaml.Unmarshal(data, pod); err != nil {
		return nil, fmt.Errorf("couldn't parse as pod(%w)", err)
	}
	return pod, nil
}

// complete does what upstream's applyDefaults does to a pod from a file:
// a UID that is the same at every read of the same manifest on the same
// node, so a restarted kubelet finds its pods again; a name unique across
// nodes; the node binding; the hash annotation; a toleration of every
// NoExecute taint, so that node problems do not evict the control plane.
func complete(pod *corev1.Pod, path, nodeName string) error {
	if pod.UID == "" {
		uid, err := podUID(pod, path, nodeName)
		if err != nil {
			return err
		}
		pod.UID = uid
	}
	pod.Name = pod.Name + "-" + strings.ToLower(nodeName)
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.Spec.NodeName = nodeName
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[ConfigHashAnnotationKey] = string(pod.UID)
	addOrUpdateToleration(&pod.Spec, corev1.Toleration{
		Operator: corev1.TolerationOpExists,
		Effect:   corev1.TaintEffectNoExecute,
	})
	pod.Status.Phase = corev1.PodPending
	return nil
}

// podUID hashes the decoded pod, then the node and the file, with
// FNV-128a as current upstream does (older kubelets used MD5). Hashing the object rather than the
// bytes keeps the UID, and the running pod, across a reformatting of the
// file. The encoding is Go's JSON, not upstream's object dump, so the value
// differs from upstream's for the same manifest, which nothing compares.
func podUID(pod *corev1.Pod, path, nodeName string) (types.UID, error) {
	data, err := json.Marshal(pod)
	if err != nil {
		return "", fmt.Errorf("hash pod: %w", err)
	}
	h := fnv.New128a()
	h.Write(data)
	fmt.Fprintf(h, "host:%s", nodeName)
	fmt.Fprintf(h, "file:%s", path)
	return types.UID(hex.EncodeToString(h.Sum(nil))), nil
}

// addOrUpdateToleration adds t unless an equal one is there, replacing one
// with the same key, operator, value and effect, as upstream's helper.
func addOrUpdateToleration(spec *corev1.PodSpec, t corev1.Toleration) {
	for i := range spec.Tolerations {
		old := &spec.Tolerations[i]
		if old.Key == t.Key && old.Operator == t.Operator && old.Value == t.Value && old.Effect == t.Effect {
			if !apiequality.Semantic.DeepEqual(*old, t) {
				*old = t
			}
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, t)
}

// validatePod runs the API server's checks of a pod being created,
// metadata included, so that a static pod the kubelet runs is one the API
// server would have accepted.
func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if validate, _ := validation.For(corev1.SchemeGroupVersion.WithKind("Pod")); validate != nil {
		errs = append(errs, validate(pod)...)
	}
	return errs
}
