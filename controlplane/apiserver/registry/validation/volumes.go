package validation

import (
	"fmt"
	"net"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

var pdPartitionErrorMsg = validation.InclusiveRangeError(1, 255)

// volumeSet is a pod's volumes as containers see them: only volumes that
// passed validation can be mounted, as upstream.
type volumeSet struct {
	vols  []corev1.Volume
	valid []bool
}

func (v volumeSet) lookup(name string) (*corev1.VolumeSource, bool) {
	for i := range v.vols {
		if v.valid[i] && v.vols[i].Name == name {
			return &v.vols[i].VolumeSource, true
		}
	}
	return nil, false
}

// validateVolumes checks a pod's volumes; podName is set for a Pod (not a
// template), whose ephemeral volumes become PVCs named after it.
func validateVolumes(errs field.ErrorList, vols []corev1.Volume, podName string, s *step, opts podOptions, valid []bool) (field.ErrorList, volumeSet) {
	set := volumeSet{vols: vols, valid: valid}
	for i := range vols {
		vol := &vols[i]
		vs := s.index(i)
		ns := vs.child("name")
		before := len(errs)
		errs = validateVolumeSource(errs, &vol.VolumeSource, &vs, vol.Name, podName, opts)
		if len(vol.Name) == 0 {
			errs = append(errs, field.Required(ns.path(), ""))
		} else {
			errs = validateDNSLabel(errs, vol.Name, &ns)
		}
		for j := 0; j < i; j++ {
			if valid[j] && vols[j].Name == vol.Name {
				errs = append(errs, field.Duplicate(ns.path(), vol.Name))
				break
			}
		}
		valid[i] = len(errs) == before
		// A volume may not use a claim that another volume of the pod
		// creates.
		if podName != "" && vol.PersistentVolumeClaim != nil {
			for j := range vols {
				if vols[j].Ephemeral != nil && podName+"-"+vols[j].Name == vol.PersistentVolumeClaim.ClaimName {
					errs = append(errs, field.Invalid(vs.path("persistentVolumeClaim", "claimName"), vol.PersistentVolumeClaim.ClaimName,
						"must not reference a PVC that gets created for an ephemeral volume"))
					break
				}
			}
		}
	}
	return errs, set
}

// volumeSourceCheck validates one kind of volume source under its path.
type volumeSourceCheck struct {
	name string // the field, as named when a second source is forbidden
	at   string // the field as upstream names it in the source's own errors
	set  func(*corev1.VolumeSource) bool
}

type volumeContext struct {
	volName, podName string
	opts             podOptions
}

// volumeSources are in upstream's order, which decides which of two sources
// is reported as the extra one. Some paths are upstream's own spelling.
var volumeSources = []volumeSourceCheck{
	{"emptyDir", "emptyDir", func(v *corev1.VolumeSource) bool { return v.EmptyDir != nil }},
	{"hostPath", "hostPath", func(v *corev1.VolumeSource) bool { return v.HostPath != nil }},
	{"gitRepo", "gitRepo", func(v *corev1.VolumeSource) bool { return v.GitRepo != nil }},
	{"gcePersistentDisk", "persistentDisk", func(v *corev1.VolumeSource) bool { return v.GCEPersistentDisk != nil }},
	{"awsElasticBlockStore", "awsElasticBlockStore", func(v *corev1.VolumeSource) bool { return v.AWSElasticBlockStore != nil }},
	{"secret", "secret", func(v *corev1.VolumeSource) bool { return v.Secret != nil }},
	{"nfs", "nfs", func(v *corev1.VolumeSource) bool { return v.NFS != nil }},
	{"iscsi", "iscsi", func(v *corev1.VolumeSource) bool { return v.ISCSI != nil }},
	{"glusterfs", "glusterfs", func(v *corev1.VolumeSource) bool { return v.Glusterfs != nil }},
	{"flocker", "flocker", func(v *corev1.VolumeSource) bool { return v.Flocker != nil }},
	{"persistentVolumeClaim", "persistentVolumeClaim", func(v *corev1.VolumeSource) bool { return v.PersistentVolumeClaim != nil }},
	{"rbd", "rbd", func(v *corev1.VolumeSource) bool { return v.RBD != nil }},
	{"cinder", "cinder", func(v *corev1.VolumeSource) bool { return v.Cinder != nil }},
	{"cephFS", "cephfs", func(v *corev1.VolumeSource) bool { return v.CephFS != nil }},
	{"quobyte", "quobyte", func(v *corev1.VolumeSource) bool { return v.Quobyte != nil }},
	{"downwarAPI", "downwardAPI", func(v *corev1.VolumeSource) bool { return v.DownwardAPI != nil }},
	{"fc", "fc", func(v *corev1.VolumeSource) bool { return v.FC != nil }},
	{"flexVolume", "flexVolume", func(v *corev1.VolumeSource) bool { return v.FlexVolume != nil }},
	{"configMap", "configMap", func(v *corev1.VolumeSource) bool { return v.ConfigMap != nil }},
	{"azureFile", "azureFile", func(v *corev1.VolumeSource) bool { return v.AzureFile != nil }},
	{"vsphereVolume", "vsphereVolume", func(v *corev1.VolumeSource) bool { return v.VsphereVolume != nil }},
	{"photonPersistentDisk", "photonPersistentDisk", func(v *corev1.VolumeSource) bool { return v.PhotonPersistentDisk != nil }},
	{"portworxVolume", "portworxVolume", func(v *corev1.VolumeSource) bool { return v.PortworxVolume != nil }},
	{"azureDisk", "azureDisk", func(v *corev1.VolumeSource) bool { return v.AzureDisk != nil }},
	{"storageos", "storageos", func(v *corev1.VolumeSource) bool { return v.StorageOS != nil }},
	{"projected", "projected", func(v *corev1.VolumeSource) bool { return v.Projected != nil }},
	{"scaleIO", "scaleIO", func(v *corev1.VolumeSource) bool { return v.ScaleIO != nil }},
	{"csi", "csi", func(v *corev1.VolumeSource) bool { return v.CSI != nil }},
	{"ephemeral", "ephemeral", func(v *corev1.VolumeSource) bool { return v.Ephemeral != nil }},
	{"image", "image", func(v *corev1.VolumeSource) bool { return v.Image != nil }},
}

// validateVolumeSource requires exactly one source and checks it.
func validateVolumeSource(errs field.ErrorList, src *corev1.VolumeSource, s *step, volName, podName string, opts podOptions) field.ErrorList {
	ctx := volumeContext{volName: volName, podName: podName, opts: opts}
	n := 0
	for i := range volumeSources {
		vk := &volumeSources[i]
		if !vk.set(src) {
			continue
		}
		// emptyDir comes first and upstream counts it without the check.
		if n > 0 {
			errs = append(errs, field.Forbidden(s.path(vk.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		at := s.child(vk.at)
		errs = checkVolumeSource(errs, src, i, &at, &ctx)
		if src.ISCSI != nil && vk.name == "iscsi" && src.ISCSI.InitiatorName != nil && len(volName+":"+src.ISCSI.TargetPortal) > 64 {
			errs = append(errs, field.Invalid(s.path("name"), volName,
				"Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified."))
		}
		if vk.name == "ephemeral" && podName != "" && volName != "" {
			pvcName := podName + "-" + volName
			for _, msg := range nameIsDNSSubdomain(pvcName, false) {
				errs = append(errs, field.Invalid(s.path("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(s.path(), "must specify a volume type"))
	}
	return errs
}

// checkVolumeSource checks the source volumeSources[i] describes. It is a
// switch rather than a function in the table: a call through a function
// value would send every path step to the heap.
func checkVolumeSource(errs field.ErrorList, src *corev1.VolumeSource, i int, s *step, ctx *volumeContext) field.ErrorList {
	switch volumeSources[i].name {
	case "emptyDir":
		return checkEmptyDir(errs, src, s, ctx)
	case "hostPath":
		return checkHostPath(errs, src, s, ctx)
	case "gitRepo":
		return checkGitRepo(errs, src, s, ctx)
	case "gcePersistentDisk":
		return checkGCEPersistentDisk(errs, src, s, ctx)
	case "awsElasticBlockStore":
		return checkAWSElasticBlockStore(errs, src, s, ctx)
	case "secret":
		return checkSecretVolume(errs, src, s, ctx)
	case "nfs":
		return checkNFS(errs, src, s, ctx)
	case "iscsi":
		return checkISCSI(errs, src, s, ctx)
	case "glusterfs":
		return checkGlusterfs(errs, src, s, ctx)
	case "flocker":
		return checkFlocker(errs, src, s, ctx)
	case "persistentVolumeClaim":
		return checkPVCVolume(errs, src, s, ctx)
	case "rbd":
		return checkRBD(errs, src, s, ctx)
	case "cinder":
		return checkCinder(errs, src, s, ctx)
	case "cephFS":
		return checkCephFS(errs, src, s, ctx)
	case "quobyte":
		return checkQuobyte(errs, src, s, ctx)
	case "downwarAPI":
		return checkDownwardAPIVolume(errs, src, s, ctx)
	case "fc":
		return checkFC(errs, src, s, ctx)
	case "flexVolume":
		return checkFlexVolume(errs, src, s, ctx)
	case "configMap":
		return checkConfigMapVolume(errs, src, s, ctx)
	case "azureFile":
		return checkAzureFile(errs, src, s, ctx)
	case "vsphereVolume":
		return checkVsphere(errs, src, s, ctx)
	case "photonPersistentDisk":
		return checkPhoton(errs, src, s, ctx)
	case "portworxVolume":
		return checkPortworx(errs, src, s, ctx)
	case "azureDisk":
		return checkAzureDisk(errs, src, s, ctx)
	case "storageos":
		return checkStorageOS(errs, src, s, ctx)
	case "projected":
		return checkProjected(errs, src, s, ctx)
	case "scaleIO":
		return checkScaleIO(errs, src, s, ctx)
	case "csi":
		return checkCSIVolume(errs, src, s, ctx)
	case "ephemeral":
		return checkEphemeral(errs, src, s, ctx)
	case "image":
		return checkImageVolume(errs, src, s, ctx)
	}
	return errs
}

func checkEmptyDir(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if l := src.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
		errs = append(errs, field.Forbidden(s.path("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
	}
	return errs
}

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory,
	corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket,
}

func checkHostPath(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	return validateHostPath(errs, src.HostPath, s)
}

func validateHostPath(errs field.ErrorList, hp *corev1.HostPathVolumeSource, s *step) field.ErrorList {
	ps := s.child("path")
	if len(hp.Path) == 0 {
		return append(errs, field.Required(ps.path(), ""))
	}
	errs = validatePathNoBacksteps(errs, hp.Path, &ps)
	if hp.Type != nil && !contains(supportedHostPathTypes, *hp.Type) {
		errs = append(errs, field.NotSupported(s.path("type"), hp.Type, supportedHostPathTypes))
	}
	return errs
}

func checkGitRepo(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.GitRepo.Repository) == 0 {
		errs = append(errs, field.Required(s.path("repository"), ""))
	}
	ds := s.child("directory")
	return validateLocalDescendingPath(errs, src.GitRepo.Directory, &ds)
}

func checkGCEPersistentDisk(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	pd := src.GCEPersistentDisk
	if len(pd.PDName) == 0 {
		errs = append(errs, field.Required(s.path("pdName"), ""))
	}
	if pd.Partition < 0 || pd.Partition > 255 {
		errs = append(errs, field.Invalid(s.path("partition"), pd.Partition, pdPartitionErrorMsg))
	}
	return errs
}

func checkAWSElasticBlockStore(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	pd := src.AWSElasticBlockStore
	if len(pd.VolumeID) == 0 {
		errs = append(errs, field.Required(s.path("volumeID"), ""))
	}
	if pd.Partition < 0 || pd.Partition > 255 {
		errs = append(errs, field.Invalid(s.path("partition"), pd.Partition, pdPartitionErrorMsg))
	}
	return errs
}

func validateFileMode(errs field.ErrorList, mode *int32, s *step, name string) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		errs = append(errs, field.Invalid(s.path(name), *mode, fileModeErrorMsg))
	}
	return errs
}

func checkSecretVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	sec := src.Secret
	if len(sec.SecretName) == 0 {
		errs = append(errs, field.Required(s.path("secretName"), ""))
	}
	errs = validateFileMode(errs, sec.DefaultMode, s, "defaultMode")
	items := s.child("items")
	for i := range sec.Items {
		is := items.index(i)
		errs = validateKeyToPath(errs, &sec.Items[i], &is)
	}
	return errs
}

func checkConfigMapVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	cm := src.ConfigMap
	if len(cm.Name) == 0 {
		errs = append(errs, field.Required(s.path("name"), ""))
	}
	errs = validateFileMode(errs, cm.DefaultMode, s, "defaultMode")
	items := s.child("items")
	for i := range cm.Items {
		is := items.index(i)
		errs = validateKeyToPath(errs, &cm.Items[i], &is)
	}
	return errs
}

func validateKeyToPath(errs field.ErrorList, kp *corev1.KeyToPath, s *step) field.ErrorList {
	if len(kp.Key) == 0 {
		errs = append(errs, field.Required(s.path("key"), ""))
	}
	ps := s.child("path")
	if len(kp.Path) == 0 {
		errs = append(errs, field.Required(ps.path(), ""))
	}
	errs = validateLocalNonReservedPath(errs, kp.Path, &ps)
	return validateFileMode(errs, kp.Mode, s, "mode")
}

func checkPVCVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.PersistentVolumeClaim.ClaimName) == 0 {
		errs = append(errs, field.Required(s.path("claimName"), ""))
	}
	return errs
}

func checkNFS(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	nfs := src.NFS
	if len(nfs.Server) == 0 {
		errs = append(errs, field.Required(s.path("server"), ""))
	}
	if len(nfs.Path) == 0 {
		errs = append(errs, field.Required(s.path("path"), ""))
	}
	if !path.IsAbs(nfs.Path) {
		errs = append(errs, field.Invalid(s.path("path"), nfs.Path, "must be an absolute path"))
	}
	return errs
}

var (
	iscsiIqnRegex = regexp.MustCompile(`iqn\.\d{4}-\d{2}\.([[:alnum:]-.]+)(:[^,;*&$|\s]+)$`)
	iscsiEuiRegex = regexp.MustCompile(`^eui.[[:alnum:]]{16}$`)
	iscsiNaaRegex = regexp.MustCompile(`^naa.[[:alnum:]]{32}$`)
)

// iscsiNameError says what is wrong with an iSCSI qualified name, if
// anything; the prefix message differs between the IQN and the initiator.
func iscsiNameError(name, badPrefix string) string {
	switch {
	case strings.HasPrefix(name, "iqn"):
		if !iscsiIqnRegex.MatchString(name) {
			return "must be valid format"
		}
	case strings.HasPrefix(name, "eui"):
		if !iscsiEuiRegex.MatchString(name) {
			return "must be valid format"
		}
	case strings.HasPrefix(name, "naa"):
		if !iscsiNaaRegex.MatchString(name) {
			return "must be valid format"
		}
	default:
		return badPrefix
	}
	return ""
}

func checkISCSI(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	is := src.ISCSI
	if len(is.TargetPortal) == 0 {
		errs = append(errs, field.Required(s.path("targetPortal"), ""))
	}
	if len(is.IQN) == 0 {
		errs = append(errs, field.Required(s.path("iqn"), ""))
	} else if msg := iscsiNameError(is.IQN, "must be valid format starting with iqn, eui, or naa"); msg != "" {
		errs = append(errs, field.Invalid(s.path("iqn"), is.IQN, msg))
	}
	if is.Lun < 0 || is.Lun > 255 {
		errs = append(errs, field.Invalid(s.path("lun"), is.Lun, validation.InclusiveRangeError(0, 255)))
	}
	if (is.DiscoveryCHAPAuth || is.SessionCHAPAuth) && is.SecretRef == nil {
		errs = append(errs, field.Required(s.path("secretRef"), ""))
	}
	if is.InitiatorName != nil {
		if msg := iscsiNameError(*is.InitiatorName, "must be valid format starting with iqn, eui, or naa"); msg != "" {
			errs = append(errs, field.Invalid(s.path("initiatorname"), *is.InitiatorName, msg))
		}
	}
	return errs
}

func checkGlusterfs(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.Glusterfs.EndpointsName) == 0 {
		errs = append(errs, field.Required(s.path("endpoints"), ""))
	}
	if len(src.Glusterfs.Path) == 0 {
		errs = append(errs, field.Required(s.path("path"), ""))
	}
	return errs
}

func checkFlocker(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	f := src.Flocker
	if len(f.DatasetName) == 0 && len(f.DatasetUUID) == 0 {
		errs = append(errs, field.Required(s.path(), "one of datasetName and datasetUUID is required"))
	}
	if len(f.DatasetName) != 0 && len(f.DatasetUUID) != 0 {
		errs = append(errs, field.Invalid(s.path(), "resource", "datasetName and datasetUUID can not be specified simultaneously"))
	}
	if strings.Contains(f.DatasetName, "/") {
		errs = append(errs, field.Invalid(s.path("datasetName"), f.DatasetName, "must not contain '/'"))
	}
	return errs
}

func checkRBD(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.RBD.CephMonitors) == 0 {
		errs = append(errs, field.Required(s.path("monitors"), ""))
	}
	if len(src.RBD.RBDImage) == 0 {
		errs = append(errs, field.Required(s.path("image"), ""))
	}
	return errs
}

func checkCinder(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.Cinder.VolumeID) == 0 {
		errs = append(errs, field.Required(s.path("volumeID"), ""))
	}
	if src.Cinder.SecretRef != nil && len(src.Cinder.SecretRef.Name) == 0 {
		errs = append(errs, field.Required(s.path("secretRef", "name"), ""))
	}
	return errs
}

func checkCephFS(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.CephFS.Monitors) == 0 {
		errs = append(errs, field.Required(s.path("monitors"), ""))
	}
	return errs
}

func checkQuobyte(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	q := src.Quobyte
	const hostPorts = "must be a host:port pair or multiple pairs separated by commas"
	switch {
	case len(q.Registry) == 0:
		errs = append(errs, field.Required(s.path("registry"), hostPorts))
	case len(q.Tenant) >= 65:
		errs = append(errs, field.Required(s.path("tenant"), "must be a UUID and may not exceed a length of 64 characters"))
	default:
		for _, hp := range strings.Split(q.Registry, ",") {
			if _, _, err := net.SplitHostPort(hp); err != nil {
				errs = append(errs, field.Invalid(s.path("registry"), q.Registry, hostPorts))
			}
		}
	}
	if len(q.Volume) == 0 {
		errs = append(errs, field.Required(s.path("volume"), ""))
	}
	return errs
}

func checkDownwardAPIVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	d := src.DownwardAPI
	errs = validateFileMode(errs, d.DefaultMode, s, "defaultMode")
	// Upstream reports items under the volume's path, without the index.
	for i := range d.Items {
		errs = validateDownwardAPIVolumeFile(errs, &d.Items[i], s)
	}
	return errs
}

var validVolumeDownwardAPIFieldPaths = []string{
	"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
}

func validateDownwardAPIVolumeFile(errs field.ErrorList, f *corev1.DownwardAPIVolumeFile, s *step) field.ErrorList {
	ps := s.child("path")
	if len(f.Path) == 0 {
		errs = append(errs, field.Required(ps.path(), ""))
	}
	errs = validateLocalNonReservedPath(errs, f.Path, &ps)
	switch {
	case f.FieldRef != nil:
		fr := s.child("fieldRef")
		errs = validateObjectFieldSelector(errs, f.FieldRef, validVolumeDownwardAPIFieldPaths, &fr)
		if f.ResourceFieldRef != nil {
			errs = append(errs, field.Invalid(s.path(), "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		rr := s.child("resourceFieldRef")
		errs = validateContainerResourceFieldSelector(errs, f.ResourceFieldRef, true, &rr)
	default:
		errs = append(errs, field.Required(s.path(), "one of fieldRef and resourceFieldRef is required"))
	}
	return validateFileMode(errs, f.Mode, s, "mode")
}

func checkFC(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	fc := src.FC
	if len(fc.TargetWWNs) < 1 && len(fc.WWIDs) < 1 {
		errs = append(errs, field.Required(s.path("targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
	}
	if len(fc.TargetWWNs) != 0 && len(fc.WWIDs) != 0 {
		errs = append(errs, field.Invalid(s.path("targetWWNs"), fc.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
	}
	if len(fc.TargetWWNs) != 0 {
		if fc.Lun == nil {
			errs = append(errs, field.Required(s.path("lun"), "lun is required if targetWWNs is specified"))
		} else if *fc.Lun < 0 || *fc.Lun > 255 {
			errs = append(errs, field.Invalid(s.path("lun"), fc.Lun, validation.InclusiveRangeError(0, 255)))
		}
	}
	return errs
}

func checkFlexVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	fv := src.FlexVolume
	if len(fv.Driver) == 0 {
		errs = append(errs, field.Required(s.path("driver"), ""))
	}
	var buf [8]string
	for _, k := range sortedKeys(fv.Options, buf[:0]) {
		ns := k
		if before, _, ok := strings.Cut(k, "/"); ok {
			ns = before
		}
		normalized := "." + strings.ToLower(ns)
		if strings.HasSuffix(normalized, ".kubernetes.io") || strings.HasSuffix(normalized, ".k8s.io") {
			errs = append(errs, field.Invalid(s.path("options").Key(k), k, "kubernetes.io and k8s.io namespaces are reserved"))
		}
	}
	return errs
}

func checkAzureFile(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if src.AzureFile.SecretName == "" {
		errs = append(errs, field.Required(s.path("secretName"), ""))
	}
	if src.AzureFile.ShareName == "" {
		errs = append(errs, field.Required(s.path("shareName"), ""))
	}
	return errs
}

func checkVsphere(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.VsphereVolume.VolumePath) == 0 {
		errs = append(errs, field.Required(s.path("volumePath"), ""))
	}
	return errs
}

func checkPhoton(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.PhotonPersistentDisk.PdID) == 0 {
		errs = append(errs, field.Required(s.path("pdID"), ""))
	}
	return errs
}

func checkPortworx(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	if len(src.PortworxVolume.VolumeID) == 0 {
		errs = append(errs, field.Required(s.path("volumeID"), ""))
	}
	return errs
}

var (
	azureCachingModes = []corev1.AzureDataDiskCachingMode{corev1.AzureDataDiskCachingNone, corev1.AzureDataDiskCachingReadOnly, corev1.AzureDataDiskCachingReadWrite}
	azureDiskKinds    = []corev1.AzureDataDiskKind{corev1.AzureDedicatedBlobDisk, corev1.AzureManagedDisk, corev1.AzureSharedBlobDisk}
)

func checkAzureDisk(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	a := src.AzureDisk
	if a.DiskName == "" {
		errs = append(errs, field.Required(s.path("diskName"), ""))
	}
	if a.DataDiskURI == "" {
		errs = append(errs, field.Required(s.path("diskURI"), ""))
	}
	if a.CachingMode != nil && !contains(azureCachingModes, *a.CachingMode) {
		errs = append(errs, field.NotSupported(s.path("cachingMode"), *a.CachingMode, azureCachingModes))
	}
	if a.Kind != nil && !contains(azureDiskKinds, *a.Kind) {
		errs = append(errs, field.NotSupported(s.path("kind"), *a.Kind, azureDiskKinds))
	}
	if a.Kind != nil && *a.Kind == corev1.AzureManagedDisk && !strings.HasPrefix(a.DataDiskURI, "/subscriptions/") {
		errs = append(errs, field.NotSupported(s.path("diskURI"), a.DataDiskURI,
			[]string{"/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"}))
	}
	if a.Kind != nil && *a.Kind != corev1.AzureManagedDisk && !strings.HasPrefix(a.DataDiskURI, "https://") {
		errs = append(errs, field.NotSupported(s.path("diskURI"), a.DataDiskURI,
			[]string{"https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"}))
	}
	return errs
}

func checkStorageOS(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	so := src.StorageOS
	vn := s.child("volumeName")
	if len(so.VolumeName) == 0 {
		errs = append(errs, field.Required(vn.path(), ""))
	} else {
		errs = validateDNSLabel(errs, so.VolumeName, &vn)
	}
	if len(so.VolumeNamespace) > 0 {
		vns := s.child("volumeNamespace")
		errs = validateDNSLabel(errs, so.VolumeNamespace, &vns)
	}
	if so.SecretRef != nil && len(so.SecretRef.Name) == 0 {
		errs = append(errs, field.Required(s.path("secretRef", "name"), ""))
	}
	return errs
}

func checkScaleIO(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	sio := src.ScaleIO
	if sio.Gateway == "" {
		errs = append(errs, field.Required(s.path("gateway"), ""))
	}
	if sio.System == "" {
		errs = append(errs, field.Required(s.path("system"), ""))
	}
	if sio.VolumeName == "" {
		errs = append(errs, field.Required(s.path("volumeName"), ""))
	}
	return errs
}

// validateCSIDriverName is upstream's rule for CSI driver names.
func validateCSIDriverName(errs field.ErrorList, name string, s *step) field.ErrorList {
	if len(name) == 0 {
		errs = append(errs, field.Required(s.path(), ""))
	}
	if len(name) > 63 {
		errs = append(errs, field.TooLong(s.path(), "", 63))
	}
	if lower := strings.ToLower(name); !surelyDNSSubdomain(lower) {
		errs = invalidEach(errs, s, name, validation.IsDNS1123Subdomain(lower))
	}
	return errs
}

func checkCSIVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	csi := src.CSI
	ds := s.child("driver")
	errs = validateCSIDriverName(errs, csi.Driver, &ds)
	if ref := csi.NodePublishSecretRef; ref != nil {
		if len(ref.Name) == 0 {
			errs = append(errs, field.Required(s.path("nodePublishSecretRef", "name"), ""))
		} else {
			// Upstream reports the secret's name as csi.name.
			ns := s.child("name")
			errs = validateName(errs, ref.Name, nameIsDNSSubdomain, &ns)
		}
	}
	return errs
}

func checkEphemeral(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	t := src.Ephemeral.VolumeClaimTemplate
	ts := s.child("volumeClaimTemplate")
	if t == nil {
		return append(errs, field.Required(ts.path(), ""))
	}
	ms := ts.child("metadata")
	errs = validateTemplateObjectMeta(errs, &t.ObjectMeta, &ms)
	ss := ts.child("spec")
	return validatePVCSpec(errs, &t.Spec, &ss)
}

var supportedPullPolicies = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}

// validatePullPolicy accepts the empty policy, which upstream's defaulting
// fills in before validation.
func validatePullPolicy(errs field.ErrorList, p corev1.PullPolicy, s *step) field.ErrorList {
	switch p {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever, "":
		return errs
	}
	return append(errs, field.NotSupported(s.path(), p, supportedPullPolicies))
}

func checkImageVolume(errs field.ErrorList, src *corev1.VolumeSource, s *step, ctx *volumeContext) field.ErrorList {
	if ctx.opts.isPod && len(src.Image.Reference) == 0 {
		errs = append(errs, field.Required(s.path("reference"), ""))
	}
	pp := s.child("pullPolicy")
	return validatePullPolicy(errs, src.Image.PullPolicy, &pp)
}

func checkProjected(errs field.ErrorList, src *corev1.VolumeSource, s *step, _ *volumeContext) field.ErrorList {
	p := src.Projected
	errs = validateFileMode(errs, p.DefaultMode, s, "defaultMode")
	// Paths must not collide across sources; a pod has few, so a slice
	// does.
	var seenBuf [16]string
	seen := seenBuf[:0]
	dup := func(p string) bool {
		if contains(seen, p) {
			return true
		}
		seen = append(seen, p)
		return false
	}
	srcs := s.child("sources")
	for i := range p.Sources {
		ps := &p.Sources[i]
		ss := srcs.index(i)
		n := 0
		if ps.Secret != nil {
			n++
			sec := ss.child("secret")
			if len(ps.Secret.Name) == 0 {
				errs = append(errs, field.Required(sec.path("name"), ""))
			}
			items := sec.child("items")
			for j := range ps.Secret.Items {
				is := items.index(j)
				kp := &ps.Secret.Items[j]
				errs = validateKeyToPath(errs, kp, &is)
				if len(kp.Path) > 0 && dup(kp.Path) {
					errs = append(errs, field.Invalid(s.path(), ps.Secret.Name, "conflicting duplicate paths"))
				}
			}
		}
		if ps.ConfigMap != nil {
			n++
			cm := ss.child("configMap")
			if len(ps.ConfigMap.Name) == 0 {
				errs = append(errs, field.Required(cm.path("name"), ""))
			}
			items := cm.child("items")
			for j := range ps.ConfigMap.Items {
				is := items.index(j)
				kp := &ps.ConfigMap.Items[j]
				errs = validateKeyToPath(errs, kp, &is)
				if len(kp.Path) > 0 && dup(kp.Path) {
					errs = append(errs, field.Invalid(s.path(), ps.ConfigMap.Name, "conflicting duplicate paths"))
				}
			}
		}
		if ps.DownwardAPI != nil {
			n++
			da := ss.child("downwardAPI")
			for j := range ps.DownwardAPI.Items {
				f := &ps.DownwardAPI.Items[j]
				errs = validateDownwardAPIVolumeFile(errs, f, &da)
				if len(f.Path) > 0 && dup(f.Path) {
					errs = append(errs, field.Invalid(s.path(), f.Path, "conflicting duplicate paths"))
				}
			}
		}
		if t := ps.ServiceAccountToken; t != nil {
			n++
			es := ss.child("serviceAccountToken")
			// An unset expiration is defaulted to an hour upstream.
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 10*60 {
				errs = append(errs, field.Invalid(es.path("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds > 1<<32 {
				errs = append(errs, field.Invalid(es.path("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
			}
			// Upstream reports the token's path under the volume.
			tp := s.child("path")
			if t.Path == "" {
				errs = append(errs, field.Required(tp.path(), ""))
			} else {
				errs = validateLocalNonReservedPath(errs, t.Path, &tp)
			}
		}
		if b := ps.ClusterTrustBundle; b != nil {
			n++
			bs := ss.child("clusterTrustBundle")
			switch {
			case b.Name != nil && b.SignerName != nil:
				errs = append(errs, field.Invalid(bs.path(), b, "only one of name and signerName may be used"))
			case b.Name != nil:
				if *b.Name == "" {
					errs = append(errs, field.Required(bs.path("name"), "must be a valid object name"))
				}
				if b.LabelSelector != nil {
					errs = append(errs, field.Invalid(bs.path("labelSelector"), b.LabelSelector, "labelSelector must be unset if name is specified"))
				}
			case b.SignerName != nil:
				if *b.SignerName == "" {
					errs = append(errs, field.Required(bs.path("signerName"), "must be a valid signer name"))
				}
				ls := bs.child("labelSelector")
				errs = validateLabelSelector(errs, b.LabelSelector, false, &ls)
			default:
				errs = append(errs, field.Required(bs.path(), "either name or signerName must be specified"))
			}
			bp := bs.child("path")
			if b.Path == "" {
				errs = append(errs, field.Required(bp.path(), ""))
			}
			errs = validateLocalNonReservedPath(errs, b.Path, &bp)
			if dup(b.Path) {
				errs = append(errs, field.Invalid(s.path(), b.Path, "conflicting duplicate paths"))
			}
		}
		if ps.PodCertificate != nil {
			n++
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(ss.path(), "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

// validateLocalDescendingPath requires a relative path without "..".
func validateLocalDescendingPath(errs field.ErrorList, target string, s *step) field.ErrorList {
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(s.path(), target, "must be a relative path"))
	}
	return validatePathNoBacksteps(errs, target, s)
}

func validatePathNoBacksteps(errs field.ErrorList, target string, s *step) field.ErrorList {
	if hasBacksteps(filepath.ToSlash(target)) {
		// One error makes the point, even for ../../..
		return append(errs, field.Invalid(s.path(), target, "must not contain '..'"))
	}
	return errs
}

// validateLocalNonReservedPath also rejects a leading "..", which kubelet
// uses for its own files.
func validateLocalNonReservedPath(errs field.ErrorList, target string, s *step) field.ErrorList {
	errs = validateLocalDescendingPath(errs, target, s)
	if strings.HasPrefix(target, "..") && !strings.HasPrefix(target, "../") {
		errs = append(errs, field.Invalid(s.path(), target, "must not start with '..'"))
	}
	return errs
}

// validateTemplateObjectMeta allows only labels and annotations in the
// metadata of an embedded template, such as an ephemeral volume's claim.
func validateTemplateObjectMeta(errs field.ErrorList, m *metav1.ObjectMeta, s *step) field.ErrorList {
	errs = validateAnnotations(errs, m.Annotations, s)
	ls := s.child("labels")
	errs = validateLabels(errs, m.Labels, &ls)
	set := []struct {
		name string
		set  bool
	}{
		{"name", m.Name != ""},
		{"generateName", m.GenerateName != ""},
		{"namespace", m.Namespace != ""},
		{"selfLink", m.SelfLink != ""},
		{"uID", m.UID != ""},
		{"resourceVersion", m.ResourceVersion != ""},
		{"generation", m.Generation != 0},
		{"creationTimestamp", !m.CreationTimestamp.IsZero()},
		{"deletionTimestamp", m.DeletionTimestamp != nil},
		{"deletionGracePeriodSeconds", m.DeletionGracePeriodSeconds != nil},
		{"ownerReferences", m.OwnerReferences != nil},
		{"finalizers", m.Finalizers != nil},
		{"managedFields", m.ManagedFields != nil},
	}
	for _, f := range set {
		if f.set {
			errs = append(errs, field.Forbidden(s.path(f.name), "cannot be set"))
		}
	}
	return errs
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
