package defaults

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// volume fills a pod volume's defaults: a volume naming no source is an
// emptyDir, and each source gets its own defaults.
func volume(v *corev1.Volume) {
	src := &v.VolumeSource
	if noVolumeSource(src) {
		src.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if img := src.Image; img != nil && img.PullPolicy == "" {
		img.PullPolicy = pullPolicy(img.Reference)
	}
	if src.HostPath != nil {
		hostPath(src.HostPath)
	}
	if s := src.Secret; s != nil && s.DefaultMode == nil {
		s.DefaultMode = new(corev1.SecretVolumeSourceDefaultMode)
	}
	if s := src.ConfigMap; s != nil && s.DefaultMode == nil {
		s.DefaultMode = new(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if s := src.DownwardAPI; s != nil {
		if s.DefaultMode == nil {
			s.DefaultMode = new(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		downwardAPIFiles(s.Items)
	}
	if s := src.Projected; s != nil {
		projected(s)
	}
	if s := src.ISCSI; s != nil && s.ISCSIInterface == "" {
		s.ISCSIInterface = "default"
	}
	if s := src.RBD; s != nil {
		rbd(&s.RBDPool, &s.RadosUser, &s.Keyring)
	}
	if src.AzureDisk != nil {
		azureDisk(src.AzureDisk)
	}
	if s := src.ScaleIO; s != nil {
		scaleIO(&s.StorageMode, &s.FSType)
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
		persistentVolumeClaimSpec(&e.VolumeClaimTemplate.Spec)
	}
}

// noVolumeSource reports a volume source with no source set. Every source
// is a pointer field; looking at all of them means a source added to the
// API later counts without a change here.
func noVolumeSource(src *corev1.VolumeSource) bool {
	v := reflect.ValueOf(src).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			return false
		}
	}
	return true
}

func projected(s *corev1.ProjectedVolumeSource) {
	if s.DefaultMode == nil {
		s.DefaultMode = new(corev1.ProjectedVolumeSourceDefaultMode)
	}
	for i := range s.Sources {
		p := &s.Sources[i]
		if p.DownwardAPI != nil {
			downwardAPIFiles(p.DownwardAPI.Items)
		}
		if t := p.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
			t.ExpirationSeconds = new(int64(3600))
		}
	}
}

func downwardAPIFiles(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if items[i].FieldRef != nil {
			fieldSelector(items[i].FieldRef)
		}
	}
}

func hostPath(s *corev1.HostPathVolumeSource) {
	if s.Type == nil {
		s.Type = new(corev1.HostPathUnset)
	}
}

// The in-tree RBD, ScaleIO and AzureDisk sources have no driver any more,
// but the API still takes them, and upstream still fills their defaults.

func rbd(pool, user, keyring *string) {
	if *pool == "" {
		*pool = "rbd"
	}
	if *user == "" {
		*user = "admin"
	}
	if *keyring == "" {
		*keyring = "/etc/ceph/keyring"
	}
}

func scaleIO(storageMode, fsType *string) {
	if *storageMode == "" {
		*storageMode = "ThinProvisioned"
	}
	if *fsType == "" {
		*fsType = "xfs"
	}
}

func azureDisk(s *corev1.AzureDiskVolumeSource) {
	if s.CachingMode == nil {
		s.CachingMode = new(corev1.AzureDataDiskCachingReadWrite)
	}
	if s.FSType == nil {
		s.FSType = new("ext4")
	}
	if s.ReadOnly == nil {
		s.ReadOnly = new(false)
	}
	if s.Kind == nil {
		s.Kind = new(corev1.AzureSharedBlobDisk)
	}
}
