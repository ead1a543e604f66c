package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// A few core/v1 fields are old spellings of others. Upstream stores only
// the new field, reading the old one when the new is unset and writing it
// back from the new on every response; the functions here give the same
// result in place.

// syncServiceAccount keeps the deprecated serviceAccount equal to
// serviceAccountName, which it fills when only the former is given.
func syncServiceAccount(spec *corev1.PodSpec) {
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
}

// syncPodIPs keeps podIP and hostIP equal to the first of podIPs and
// hostIPs. When the single field disagrees with the list, the single field
// wins and replaces the list, for the sake of kubelets that set only it.
func syncPodIPs(st *corev1.PodStatus) {
	if st.PodIP != "" && (len(st.PodIPs) == 0 || st.PodIPs[0].IP != st.PodIP) {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if st.HostIP != "" && (len(st.HostIPs) == 0 || st.HostIPs[0].IP != st.HostIP) {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	if len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	}
}

// syncPodCIDRs keeps podCIDR equal to the first of podCIDRs, the single
// field winning a disagreement as with pod IPs.
func syncPodCIDRs(spec *corev1.NodeSpec) {
	if spec.PodCIDR != "" && (len(spec.PodCIDRs) == 0 || spec.PodCIDRs[0] != spec.PodCIDR) {
		spec.PodCIDRs = []string{spec.PodCIDR}
	}
	if len(spec.PodCIDRs) > 0 {
		spec.PodCIDR = spec.PodCIDRs[0]
	}
}

// mergeStringData moves a secret's stringData into data, where it
// overwrites keys of the same name. stringData is write-only: it is never
// stored or returned.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
