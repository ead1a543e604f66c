package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// containerContext is what a container's checks need to know of its pod.
type containerContext struct {
	vols          volumeSet
	claims        []corev1.PodResourceClaim
	restartPolicy corev1.RestartPolicy
	hostUsers     bool
	// gracePeriod bounds lifecycle sleeps.
	gracePeriod int64
}

// validateContainerCommon is what upstream checks for every kind of
// container: regular, init and ephemeral.
func validateContainerCommon(errs field.ErrorList, c *corev1.Container, s *step, ctx *containerContext) field.ErrorList {
	ns := s.child("name")
	if len(c.Name) == 0 {
		errs = append(errs, field.Required(ns.path(), ""))
	} else {
		errs = validateDNSLabel(errs, c.Name, &ns)
	}
	// Whitespace-only images are a historical placeholder in templates, so
	// only emptiness is an error here.
	if len(c.Image) == 0 {
		errs = append(errs, field.Required(s.path("image"), ""))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError, "":
	default:
		errs = append(errs, field.NotSupported(s.path("terminationMessagePolicy"), c.TerminationMessagePolicy,
			[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
	}
	ps := s.child("ports")
	errs = validateContainerPorts(errs, c.Ports, &ps)
	es := s.child("env")
	errs = validateEnv(errs, c.Env, &es)
	efs := s.child("envFrom")
	errs = validateEnvFrom(errs, c.EnvFrom, &efs)
	vms := s.child("volumeMounts")
	errs = validateVolumeMounts(errs, c, ctx.vols, &vms)
	vds := s.child("volumeDevices")
	errs = validateVolumeDevices(errs, c, ctx.vols, &vds)
	pps := s.child("imagePullPolicy")
	errs = validatePullPolicy(errs, c.ImagePullPolicy, &pps)
	rs := s.child("resources")
	errs = validateResourceRequirements(errs, &c.Resources, containerResourceNames, ctx.claims, &rs)
	rps := s.child("resizePolicy")
	errs = validateResizePolicy(errs, c.ResizePolicy, ctx.restartPolicy, &rps)
	scs := s.child("securityContext")
	return validateSecurityContext(errs, c.SecurityContext, ctx.hostUsers, &scs)
}

var supportedPortProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

// protocolOrTCP is a port's protocol after defaulting.
func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func validateContainerPorts(errs field.ErrorList, ports []corev1.ContainerPort, s *step) field.ErrorList {
	for i := range ports {
		port := &ports[i]
		ps := s.index(i)
		if len(port.Name) > 0 {
			ns := ps.child("name")
			if msgs := validation.IsValidPortName(port.Name); len(msgs) != 0 {
				errs = invalidEach(errs, &ns, port.Name, msgs)
			} else {
				for j := 0; j < i; j++ {
					if ports[j].Name == port.Name {
						errs = append(errs, field.Duplicate(ns.path(), port.Name))
						break
					}
				}
			}
		}
		cp := ps.child("containerPort")
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(cp.path(), ""))
		} else if port.ContainerPort < 1 || port.ContainerPort > 65535 {
			errs = invalidEach(errs, &cp, port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))
		}
		if port.HostPort != 0 && (port.HostPort < 1 || port.HostPort > 65535) {
			hp := ps.child("hostPort")
			errs = invalidEach(errs, &hp, port.HostPort, validation.IsValidPortNum(int(port.HostPort)))
		}
		if port.Protocol != "" && !contains(supportedPortProtocols, port.Protocol) {
			errs = append(errs, field.NotSupported(ps.path("protocol"), port.Protocol, supportedPortProtocols))
		}
	}
	return errs
}

// validateHostPortConflicts reports the same protocol/hostIP/hostPort used
// twice across containers.
func validateHostPortConflicts(errs field.ErrorList, containers []corev1.Container, s *step) field.ErrorList {
	type used struct {
		proto corev1.Protocol
		ip    string
		port  int32
	}
	var buf [16]used
	seen := buf[:0]
	for ci := range containers {
		for pi, p := range containers[ci].Ports {
			if p.HostPort == 0 {
				continue
			}
			u := used{protocolOrTCP(p.Protocol), p.HostIP, p.HostPort}
			if contains(seen, u) {
				errs = append(errs, field.Duplicate(s.path().Index(ci).Child("ports").Index(pi).Child("hostPort"),
					fmt.Sprintf("%s/%s/%d", u.proto, u.ip, u.port)))
				continue
			}
			seen = append(seen, u)
		}
	}
	return errs
}

func validateEnv(errs field.ErrorList, vars []corev1.EnvVar, s *step) field.ErrorList {
	for i := range vars {
		ev := &vars[i]
		is := s.index(i)
		ns := is.child("name")
		if len(ev.Name) == 0 {
			errs = append(errs, field.Required(ns.path(), ""))
		} else {
			errs = invalidEach(errs, &ns, ev.Name, validation.IsRelaxedEnvVarName(ev.Name))
		}
		if ev.ValueFrom != nil {
			vs := is.child("valueFrom")
			errs = validateEnvVarValueFrom(errs, ev, &vs)
		}
	}
	return errs
}

var validEnvDownwardAPIFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

func validateEnvVarValueFrom(errs field.ErrorList, ev *corev1.EnvVar, s *step) field.ErrorList {
	from := ev.ValueFrom
	n := 0
	if from.FieldRef != nil {
		n++
		fs := s.child("fieldRef")
		errs = validateObjectFieldSelector(errs, from.FieldRef, validEnvDownwardAPIFieldPaths, &fs)
	}
	if from.ResourceFieldRef != nil {
		n++
		rs := s.child("resourceFieldRef")
		errs = validateContainerResourceFieldSelector(errs, from.ResourceFieldRef, false, &rs)
	}
	if from.ConfigMapKeyRef != nil {
		n++
		cs := s.child("configMapKeyRef")
		errs = validateKeySelector(errs, from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key, &cs)
	}
	if from.SecretKeyRef != nil {
		n++
		ss := s.child("secretKeyRef")
		errs = validateKeySelector(errs, from.SecretKeyRef.Name, from.SecretKeyRef.Key, &ss)
	}
	if from.FileKeyRef != nil {
		n++
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(s.path(), "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case len(ev.Value) != 0:
		errs = append(errs, field.Invalid(s.path(), "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(s.path(), "", "may not have more than one field specified at a time"))
	}
	return errs
}

// validateKeySelector checks a configMapKeyRef or secretKeyRef. An empty
// name fails the DNS subdomain rule, as upstream reports it.
func validateKeySelector(errs field.ErrorList, name, key string, s *step) field.ErrorList {
	ns := s.child("name")
	errs = validateName(errs, name, nameIsDNSSubdomain, &ns)
	ks := s.child("key")
	if len(key) == 0 {
		return append(errs, field.Required(ks.path(), ""))
	}
	return invalidEach(errs, &ks, key, validation.IsConfigMapKey(key))
}

// splitSubscriptedPath splits "metadata.labels['key']" into its path and
// subscript.
func splitSubscriptedPath(fieldPath string) (string, string, bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	path, subscript, ok := strings.Cut(strings.TrimSuffix(fieldPath, "']"), "['")
	if !ok || path == "" {
		return fieldPath, "", false
	}
	return path, subscript, true
}

// convertDownwardAPIFieldLabel is upstream's check that a pod field may be
// exposed through the downward API.
func convertDownwardAPIFieldLabel(version, label string) (string, error) {
	if version != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", version)
	}
	if path, _, ok := splitSubscriptedPath(label); ok {
		switch path {
		case "metadata.annotations", "metadata.labels":
			return label, nil
		}
		return "", fmt.Errorf("field label does not support subscript: %s", label)
	}
	switch label {
	case "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
		"status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		return label, nil
	case "spec.host":
		return "spec.nodeName", nil
	}
	return "", fmt.Errorf("field label not supported: %s", label)
}

func validateObjectFieldSelector(errs field.ErrorList, fs *corev1.ObjectFieldSelector, valid []string, s *step) field.ErrorList {
	// An empty apiVersion is defaulted to v1 upstream.
	version := fs.APIVersion
	if version == "" {
		version = "v1"
	}
	if len(fs.FieldPath) == 0 {
		return append(errs, field.Required(s.path("fieldPath"), ""))
	}
	internal, err := convertDownwardAPIFieldLabel(version, fs.FieldPath)
	if err != nil {
		return append(errs, field.Invalid(s.path("fieldPath"), fs.FieldPath, fmt.Sprintf("error converting fieldPath: %v", err)))
	}
	if path, subscript, ok := splitSubscriptedPath(internal); ok {
		switch path {
		case "metadata.annotations":
			return validateQualifiedName(errs, strings.ToLower(subscript), s)
		case "metadata.labels":
			return validateQualifiedName(errs, subscript, s)
		}
		return append(errs, field.Invalid(s.path(), path, "does not support subscript"))
	}
	if !contains(valid, internal) {
		errs = append(errs, field.NotSupported(s.path("fieldPath"), internal, sortedCopy(valid)))
	}
	return errs
}

var validContainerResourceFieldPaths = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

func validateContainerResourceFieldSelector(errs field.ErrorList, fs *corev1.ResourceFieldSelector, volume bool, s *step) field.ErrorList {
	switch {
	case volume && len(fs.ContainerName) == 0:
		errs = append(errs, field.Required(s.path("containerName"), ""))
	case len(fs.Resource) == 0:
		errs = append(errs, field.Required(s.path("resource"), ""))
	case !contains(validContainerResourceFieldPaths, fs.Resource) &&
		!strings.HasPrefix(fs.Resource, "requests.hugepages-") && !strings.HasPrefix(fs.Resource, "limits.hugepages-"):
		errs = append(errs, field.NotSupported(s.path("resource"), fs.Resource, validContainerResourceFieldPaths))
	}
	if fs.Divisor.IsZero() {
		return errs
	}
	d := fs.Divisor.String()
	r := fs.Resource
	switch r {
	case "limits.cpu", "requests.cpu":
		if !contains(cpuDivisors, d) {
			errs = append(errs, field.Invalid(s.path("divisor"), r, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
	case "limits.memory", "requests.memory":
		if !contains(memoryDivisors, d) {
			errs = append(errs, field.Invalid(s.path("divisor"), r, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
		}
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !contains(memoryDivisors, d) {
			errs = append(errs, field.Invalid(s.path("divisor"), r, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"))
		}
	}
	if (strings.HasPrefix(r, "requests.hugepages-") || strings.HasPrefix(r, "limits.hugepages-")) && !contains(memoryDivisors, d) {
		errs = append(errs, field.Invalid(s.path("divisor"), r, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource"))
	}
	return errs
}

func validateEnvFrom(errs field.ErrorList, sources []corev1.EnvFromSource, s *step) field.ErrorList {
	for i := range sources {
		ev := &sources[i]
		is := s.index(i)
		if len(ev.Prefix) > 0 {
			ps := is.child("prefix")
			errs = invalidEach(errs, &ps, ev.Prefix, validation.IsRelaxedEnvVarName(ev.Prefix))
		}
		n := 0
		if ev.ConfigMapRef != nil {
			n++
			ns := is.child("configMapRef")
			errs = validateEnvSourceName(errs, ev.ConfigMapRef.Name, &ns)
		}
		if ev.SecretRef != nil {
			n++
			ns := is.child("secretRef")
			errs = validateEnvSourceName(errs, ev.SecretRef.Name, &ns)
		}
		// Upstream reports these two under the list, without the index.
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(s.path(), "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(s.path(), "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateEnvSourceName(errs field.ErrorList, name string, s *step) field.ErrorList {
	ns := s.child("name")
	if len(name) == 0 {
		return append(errs, field.Required(ns.path(), ""))
	}
	if surelyDNSSubdomain(name) {
		return errs
	}
	return invalidEach(errs, &ns, name, nameIsDNSSubdomainPrefix(name))
}

func nameIsDNSSubdomainPrefix(name string) []string { return nameIsDNSSubdomain(name, true) }

func validateVolumeMounts(errs field.ErrorList, c *corev1.Container, vols volumeSet, s *step) field.ErrorList {
	mounts := c.VolumeMounts
	for i := range mounts {
		m := &mounts[i]
		is := s.index(i)
		if len(m.Name) == 0 {
			errs = append(errs, field.Required(is.path("name"), ""))
		}
		src, found := vols.lookup(m.Name)
		if !found {
			errs = append(errs, field.NotFound(is.path("name"), m.Name))
		}
		if len(m.MountPath) == 0 {
			errs = append(errs, field.Required(is.path("mountPath"), ""))
		}
		for j := 0; j < i; j++ {
			if mounts[j].MountPath == m.MountPath {
				errs = append(errs, field.Invalid(is.path("mountPath"), m.MountPath, "must be unique"))
				break
			}
		}
		for j := range c.VolumeDevices {
			if c.VolumeDevices[j].Name == m.Name {
				errs = append(errs, field.Invalid(is.path("name"), m.Name, "must not already exist in volumeDevices"))
				break
			}
		}
		for j := range c.VolumeDevices {
			if c.VolumeDevices[j].DevicePath == m.MountPath {
				errs = append(errs, field.Invalid(is.path("mountPath"), m.MountPath, "must not already exist as a path in volumeDevices"))
				break
			}
		}
		if found && src.Image != nil {
			if len(m.SubPath) != 0 {
				errs = append(errs, field.Invalid(is.path("subPath"), m.SubPath, "not allowed in image volume sources"))
			}
			if len(m.SubPathExpr) != 0 {
				errs = append(errs, field.Invalid(is.path("subPathExpr"), m.SubPathExpr, "not allowed in image volume sources"))
			}
		}
		// Upstream reports the next paths under the list, without the
		// index.
		if len(m.SubPath) > 0 {
			sp := s.child("subPath")
			errs = validateLocalDescendingPath(errs, m.SubPath, &sp)
		}
		if len(m.SubPathExpr) > 0 {
			if len(m.SubPath) > 0 {
				errs = append(errs, field.Invalid(is.path("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			sp := s.child("subPathExpr")
			errs = validateLocalDescendingPath(errs, m.SubPathExpr, &sp)
		}
		if m.MountPropagation != nil {
			mp := s.child("mountPropagation")
			errs = validateMountPropagation(errs, *m.MountPropagation, c, &mp)
		}
		if m.RecursiveReadOnly != nil {
			rro := s.child("recursiveReadOnly")
			errs = validateRecursiveReadOnly(errs, m, &rro)
		}
	}
	return errs
}

var supportedMountPropagations = []corev1.MountPropagationMode{
	corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone,
}

func validateMountPropagation(errs field.ErrorList, mode corev1.MountPropagationMode, c *corev1.Container, s *step) field.ErrorList {
	if !contains(supportedMountPropagations, mode) {
		errs = append(errs, field.NotSupported(s.path(), mode, supportedMountPropagations))
	}
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	if mode == corev1.MountPropagationBidirectional && !privileged {
		errs = append(errs, field.Forbidden(s.path(), "Bidirectional mount propagation is available only to privileged containers"))
	}
	return errs
}

func validateRecursiveReadOnly(errs field.ErrorList, m *corev1.VolumeMount, s *step) field.ErrorList {
	switch *m.RecursiveReadOnly {
	case corev1.RecursiveReadOnlyDisabled:
	case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
		if !m.ReadOnly {
			errs = append(errs, field.Forbidden(s.path(), "may only be specified when readOnly is true"))
		}
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			errs = append(errs, field.Forbidden(s.path(), "may only be specified when mountPropagation is None or not specified"))
		}
	default:
		errs = append(errs, field.NotSupported(s.path(), *m.RecursiveReadOnly, []corev1.RecursiveReadOnlyMode{
			corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible}))
	}
	return errs
}

// hasBacksteps reports whether a slash-separated path has a ".." element.
func hasBacksteps(p string) bool {
	for p != "" {
		var part string
		part, p, _ = strings.Cut(p, "/")
		if part == ".." {
			return true
		}
	}
	return false
}

func validateVolumeDevices(errs field.ErrorList, c *corev1.Container, vols volumeSet, s *step) field.ErrorList {
	devs := c.VolumeDevices
	for i := range devs {
		d := &devs[i]
		is := s.index(i)
		src, matched := vols.lookup(d.Name)
		isPVC := matched && (src.PersistentVolumeClaim != nil || src.Ephemeral != nil)
		if len(d.Name) == 0 {
			errs = append(errs, field.Required(is.path("name"), ""))
		}
		for j := 0; j < i; j++ {
			if d.Name != "" && devs[j].Name == d.Name {
				errs = append(errs, field.Invalid(is.path("name"), d.Name, "must be unique"))
				break
			}
		}
		if matched && !isPVC {
			errs = append(errs, field.Invalid(is.path("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if !matched {
			errs = append(errs, field.NotFound(is.path("name"), d.Name))
		}
		if len(d.DevicePath) == 0 {
			errs = append(errs, field.Required(is.path("devicePath"), ""))
		}
		for j := 0; j < i; j++ {
			if devs[j].DevicePath == d.DevicePath && (devs[j].DevicePath == "" || !hasBacksteps(devs[j].DevicePath)) {
				errs = append(errs, field.Invalid(is.path("devicePath"), d.DevicePath, "must be unique"))
				break
			}
		}
		if len(d.DevicePath) > 0 && hasBacksteps(d.DevicePath) {
			errs = append(errs, field.Invalid(is.path("devicePath"), d.DevicePath, "can not contain backsteps ('..')"))
		}
		for j := range c.VolumeMounts {
			if c.VolumeMounts[j].Name == d.Name {
				errs = append(errs, field.Invalid(is.path("name"), d.Name, "must not already exist in volumeMounts"))
				break
			}
		}
		for j := range c.VolumeMounts {
			if c.VolumeMounts[j].MountPath == d.DevicePath {
				errs = append(errs, field.Invalid(is.path("devicePath"), d.DevicePath, "must not already exist as a path in volumeMounts"))
				break
			}
		}
	}
	return errs
}

// Resource names, after upstream's core helpers.
var (
	standardContainerResources = []string{"cpu", "memory", "ephemeral-storage"}
	standardResources          = []string{
		"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
		"limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
		"replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
		"services.nodeports", "services.loadbalancers",
	}
	standardQuotaResources = []string{
		"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
		"requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
		"resourcequotas", "services", "replicationcontrollers", "secrets", "persistentvolumeclaims", "configmaps",
		"services.nodeports", "services.loadbalancers",
	}
	integerResources = []string{
		"pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
		"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
	}
)

func isHugePageResourceName(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func isQuotaHugePageResourceName(name corev1.ResourceName) bool {
	return isHugePageResourceName(name) || strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix)
}

// isNativeResource: unprefixed names and *kubernetes.io/ ones.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

func isExtendedResourceName(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

func isOvercommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !isHugePageResourceName(name)
}

func isIntegerResourceName(name corev1.ResourceName) bool {
	return contains(integerResources, string(name)) || isExtendedResourceName(name)
}

// validateResourceName is upstream's check of any compute resource name.
func validateResourceName(errs field.ErrorList, name corev1.ResourceName, s *step) field.ErrorList {
	before := len(errs)
	errs = validateQualifiedName(errs, string(name), s)
	if len(errs) != before {
		return errs
	}
	if !strings.Contains(string(name), "/") && !contains(standardResources, string(name)) && !isQuotaHugePageResourceName(name) {
		errs = append(errs, field.Invalid(s.path(), name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

func validateContainerResourceName(errs field.ErrorList, name corev1.ResourceName, s *step) field.ErrorList {
	errs = validateResourceName(errs, name, s)
	if !strings.Contains(string(name), "/") {
		if !contains(standardContainerResources, string(name)) && !isHugePageResourceName(name) {
			errs = append(errs, field.Invalid(s.path(), name, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && !isExtendedResourceName(name) {
		errs = append(errs, field.Invalid(s.path(), name, "doesn't follow extended resource name standard"))
	}
	return errs
}

var supportedPodLevelResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

func validatePodResourceName(errs field.ErrorList, name corev1.ResourceName, s *step) field.ErrorList {
	before := len(errs)
	errs = validateResourceName(errs, name, s)
	if len(errs) != before {
		return errs
	}
	if !contains(supportedPodLevelResources, name) && !isHugePageResourceName(name) {
		errs = append(errs, field.NotSupported(s.path(), name, supportedPodLevelResources))
	}
	return errs
}

func validateResourceQuantityValue(errs field.ErrorList, name corev1.ResourceName, q resource.Quantity, s *step) field.ErrorList {
	errs = validateNonnegativeQuantity(errs, q, s)
	if isIntegerResourceName(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(s.path(), q, isNotIntegerErrorMsg))
	}
	return errs
}

// hugePageValueDivisible: a hugepages quantity must be whole pages.
func hugePageValueDivisible(name corev1.ResourceName, q resource.Quantity) bool {
	size, err := resource.ParseQuantity(strings.TrimPrefix(string(name), corev1.ResourceHugePagesPrefix))
	if err != nil || size.Sign() <= 0 || size.MilliValue()%1000 != 0 {
		return false
	}
	return q.Value()%size.Value() == 0
}

// resourceNames says which names resource requirements may use.
type resourceNames uint8

const (
	containerResourceNames resourceNames = iota
	podResourceNames
)

// check is a switch rather than a function value: a call through a
// function value would send every path step to the heap.
func (r resourceNames) check(errs field.ErrorList, name corev1.ResourceName, s *step) field.ErrorList {
	if r == podResourceNames {
		return validatePodResourceName(errs, name, s)
	}
	return validateContainerResourceName(errs, name, s)
}

func validateResourceRequirements(errs field.ErrorList, req *corev1.ResourceRequirements, names resourceNames, claims []corev1.PodResourceClaim, s *step) field.ErrorList {
	limPath, reqPath := s.child("limits"), s.child("requests")
	var limCPUOrMemory, reqCPUOrMemory, limHugePages, reqHugePages bool
	var buf [8]corev1.ResourceName
	for _, name := range sortedKeys(req.Limits, buf[:0]) {
		q := req.Limits[name]
		fs := limPath.key(string(name))
		errs = names.check(errs, name, &fs)
		errs = validateResourceQuantityValue(errs, name, q, &fs)
		if isHugePageResourceName(name) {
			limHugePages = true
			if !hugePageValueDivisible(name, q) {
				errs = append(errs, field.Invalid(fs.path(), q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), name)))
			}
		}
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
			limCPUOrMemory = true
		}
	}
	for _, name := range sortedKeys(req.Requests, buf[:0]) {
		q := req.Requests[name]
		fs := reqPath.key(string(name))
		errs = names.check(errs, name, &fs)
		errs = validateResourceQuantityValue(errs, name, q, &fs)
		if limit, ok := req.Limits[name]; ok {
			if q.Cmp(limit) != 0 && !isOvercommitAllowed(name) {
				errs = append(errs, field.Invalid(reqPath.path(), q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
			} else if q.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(reqPath.path(), q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
			}
		} else if !isOvercommitAllowed(name) {
			errs = append(errs, field.Required(limPath.path(), "Limit must be set for non overcommitable resources"))
		}
		if isHugePageResourceName(name) {
			reqHugePages = true
			if !hugePageValueDivisible(name, q) {
				errs = append(errs, field.Invalid(fs.path(), q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), name)))
			}
		}
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
			reqCPUOrMemory = true
		}
	}
	if !limCPUOrMemory && !reqCPUOrMemory && (reqHugePages || limHugePages) {
		errs = append(errs, field.Forbidden(s.path(), "HugePages require cpu or memory"))
	}
	if len(req.Claims) > 0 {
		cs := s.child("claims")
		errs = validateResourceClaimNames(errs, req.Claims, claims, &cs)
	}
	return errs
}

// validateResourceClaimNames requires a container's claims to name the
// pod's resource claims, each once.
func validateResourceClaimNames(errs field.ErrorList, claims []corev1.ResourceClaim, podClaims []corev1.PodResourceClaim, s *step) field.ErrorList {
	var seen []string
	for i, c := range claims {
		is := s.index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(is.path(), ""))
			continue
		}
		if contains(seen, c.Name) {
			errs = append(errs, field.Duplicate(is.path(), c.Name))
		} else {
			key := c.Name
			if c.Request != "" {
				rs := is.child("request")
				errs = validateDNSLabel(errs, c.Request, &rs)
				key += "/" + c.Request
			}
			if contains(seen, key) {
				errs = append(errs, field.Duplicate(is.path(), key))
			} else if c.Request == "" {
				for _, k := range seen {
					if before, _, ok := strings.Cut(k, "/"); ok && before == c.Name {
						errs = append(errs, field.Duplicate(is.path(), c.Name))
					}
				}
			}
			seen = append(seen, key)
		}
		var names []string
		found := false
		for _, pc := range podClaims {
			if pc.Name != "" && !contains(names, pc.Name) {
				names = append(names, pc.Name)
			}
			found = found || pc.Name == c.Name
		}
		if !found {
			e := field.NotFound(is.path(), c.Name)
			e.Detail = "must be one of the names in pod.spec.resourceClaims"
			if len(names) == 0 {
				e.Detail += " which is empty"
			} else {
				e.Detail += ": " + strings.Join(sortedCopy(names), ", ")
			}
			errs = append(errs, e)
		}
	}
	return errs
}

func validateResizePolicy(errs field.ErrorList, policies []corev1.ContainerResizePolicy, podRestartPolicy corev1.RestartPolicy, s *step) field.ErrorList {
	for i, p := range policies {
		for j := 0; j < i; j++ {
			if policies[j].ResourceName == p.ResourceName {
				errs = append(errs, field.Duplicate(s.path().Index(i), p.ResourceName))
				break
			}
		}
		switch p.ResourceName {
		case corev1.ResourceCPU, corev1.ResourceMemory:
		case "":
			errs = append(errs, field.Required(s.path(), ""))
		default:
			errs = append(errs, field.NotSupported(s.path(), p.ResourceName, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}))
		}
		switch p.RestartPolicy {
		case corev1.NotRequired, corev1.RestartContainer:
		case "":
			errs = append(errs, field.Required(s.path(), ""))
		default:
			errs = append(errs, field.NotSupported(s.path(), p.RestartPolicy, []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}))
		}
		if podRestartPolicy == corev1.RestartPolicyNever && p.RestartPolicy != corev1.NotRequired {
			errs = append(errs, field.Invalid(s.path(), p.RestartPolicy, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
		}
	}
	return errs
}

// Probes and lifecycle handlers.

func validateProbe(errs field.ErrorList, p *corev1.Probe, gracePeriod int64, s *step) field.ErrorList {
	h := handler{exec: p.Exec, httpGet: p.HTTPGet, tcpSocket: p.TCPSocket, grpc: p.GRPC}
	errs = validateHandler(errs, &h, gracePeriod, s)
	for _, f := range [...]struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.v < 0 {
			errs = append(errs, field.Invalid(s.path(f.name), int64(f.v), isNegativeErrorMsg))
		}
	}
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(s.path("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

// validateLivenessProbe also serves startup probes: both may only succeed
// once. An unset threshold is defaulted to 1 upstream.
func validateLivenessProbe(errs field.ErrorList, p *corev1.Probe, gracePeriod int64, s *step) field.ErrorList {
	if p == nil {
		return errs
	}
	errs = validateProbe(errs, p, gracePeriod, s)
	if p.SuccessThreshold != 1 && p.SuccessThreshold != 0 {
		errs = append(errs, field.Invalid(s.path("successThreshold"), p.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validateReadinessProbe(errs field.ErrorList, p *corev1.Probe, gracePeriod int64, s *step) field.ErrorList {
	if p == nil {
		return errs
	}
	errs = validateProbe(errs, p, gracePeriod, s)
	if p.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(s.path("terminationGracePeriodSeconds"), p.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}

type handler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

func validateHandler(errs field.ErrorList, h *handler, gracePeriod int64, s *step) field.ErrorList {
	n := 0
	extra := func(name string) bool {
		if n > 0 {
			errs = append(errs, field.Forbidden(s.path(name), "may not specify more than 1 handler type"))
			return true
		}
		n++
		return false
	}
	if h.exec != nil && !extra("exec") && len(h.exec.Command) == 0 {
		errs = append(errs, field.Required(s.path("exec", "command"), ""))
	}
	if h.httpGet != nil && !extra("httpGet") {
		hs := s.child("httpGet")
		errs = validateHTTPGetAction(errs, h.httpGet, &hs)
	}
	if h.tcpSocket != nil && !extra("tcpSocket") {
		ps := s.child("tcpSocket")
		pp := ps.child("port")
		errs = validatePortNumOrName(errs, h.tcpSocket.Port, &pp)
	}
	if h.grpc != nil && !extra("grpc") {
		gs := s.child("grpc")
		pp := gs.child("port")
		errs = validatePortNumOrName(errs, intstr.FromInt32(h.grpc.Port), &pp)
	}
	if h.sleep != nil && !extra("sleep") && (h.sleep.Seconds < 0 || h.sleep.Seconds > gracePeriod) {
		errs = append(errs, field.Invalid(s.path("sleep"), h.sleep.Seconds,
			fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", gracePeriod)))
	}
	if n == 0 {
		errs = append(errs, field.Required(s.path(), "must specify a handler type"))
	}
	return errs
}

func validateHTTPGetAction(errs field.ErrorList, h *corev1.HTTPGetAction, s *step) field.ErrorList {
	// An empty path and scheme are defaulted ("/" and HTTP) upstream.
	pp := s.child("port")
	errs = validatePortNumOrName(errs, h.Port, &pp)
	if h.Scheme != "" && h.Scheme != corev1.URISchemeHTTP && h.Scheme != corev1.URISchemeHTTPS {
		errs = append(errs, field.NotSupported(s.path("scheme"), h.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	hs := s.child("httpHeaders")
	for _, hdr := range h.HTTPHeaders {
		errs = invalidEach(errs, &hs, hdr.Name, validation.IsHTTPHeaderName(hdr.Name))
	}
	return errs
}

func validateLifecycle(errs field.ErrorList, l *corev1.Lifecycle, gracePeriod int64, s *step) field.ErrorList {
	if l.PostStart != nil {
		h := lifecycleHandler(l.PostStart)
		ps := s.child("postStart")
		errs = validateHandler(errs, &h, gracePeriod, &ps)
	}
	if l.PreStop != nil {
		h := lifecycleHandler(l.PreStop)
		ps := s.child("preStop")
		errs = validateHandler(errs, &h, gracePeriod, &ps)
	}
	return errs
}

func lifecycleHandler(lh *corev1.LifecycleHandler) handler {
	return handler{exec: lh.Exec, httpGet: lh.HTTPGet, tcpSocket: lh.TCPSocket, sleep: lh.Sleep}
}

// Security contexts.

func validateSecurityContext(errs field.ErrorList, sc *corev1.SecurityContext, hostUsers bool, s *step) field.ErrorList {
	if sc == nil {
		return errs
	}
	if sc.RunAsUser != nil {
		rs := s.child("runAsUser")
		errs = invalidEach(errs, &rs, *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))
	}
	if sc.RunAsGroup != nil {
		rs := s.child("runAsGroup")
		errs = invalidEach(errs, &rs, *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))
	}
	if sc.ProcMount != nil {
		switch *sc.ProcMount {
		case corev1.DefaultProcMount, corev1.UnmaskedProcMount:
		default:
			errs = append(errs, field.NotSupported(s.path("procMount"), *sc.ProcMount, []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}))
		}
		if hostUsers && *sc.ProcMount == corev1.UnmaskedProcMount {
			errs = append(errs, field.Invalid(s.path("procMount"), sc.ProcMount, "`hostUsers` must be false to use `Unmasked`"))
		}
	}
	ss := s.child("seccompProfile")
	errs = validateSeccompProfile(errs, sc.SeccompProfile, &ss)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(s.path(), sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(s.path(), sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	as := s.child("appArmorProfile")
	return validateAppArmorProfile(errs, sc.AppArmorProfile, &as)
}

func validateSeccompProfile(errs field.ErrorList, sp *corev1.SeccompProfile, s *step) field.ErrorList {
	if sp == nil {
		return errs
	}
	switch sp.Type {
	case corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(s.path("type"), "type is required when seccompProfile is set"))
	default:
		errs = append(errs, field.NotSupported(s.path("type"), sp.Type, []corev1.SeccompProfileType{
			corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}))
	}
	if sp.Type == corev1.SeccompProfileTypeLocalhost {
		if sp.LocalhostProfile == nil {
			errs = append(errs, field.Required(s.path("localhostProfile"), "must be set when seccomp type is Localhost"))
		} else {
			ls := s.child("localhostProfile")
			errs = validateLocalDescendingPath(errs, *sp.LocalhostProfile, &ls)
		}
	} else if sp.LocalhostProfile != nil {
		errs = append(errs, field.Invalid(s.path("localhostProfile"), sp, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

func validateAppArmorProfile(errs field.ErrorList, p *corev1.AppArmorProfile, s *step) field.ErrorList {
	if p == nil {
		return errs
	}
	switch p.Type {
	case corev1.AppArmorProfileTypeLocalhost:
		switch {
		case p.LocalhostProfile == nil:
			errs = append(errs, field.Required(s.path("localhostProfile"), "must be set when AppArmor type is Localhost"))
		case strings.TrimSpace(*p.LocalhostProfile) != *p.LocalhostProfile:
			errs = append(errs, field.Invalid(s.path("localhostProfile"), *p.LocalhostProfile, "must not be padded with whitespace"))
		case *p.LocalhostProfile == "":
			errs = append(errs, field.Required(s.path("localhostProfile"), "must be set when AppArmor type is Localhost"))
		}
		if p.LocalhostProfile != nil && len(*p.LocalhostProfile) > 4095 {
			errs = append(errs, field.TooLong(s.path("localhostProfile"), "", 4095))
		}
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		if p.LocalhostProfile != nil {
			errs = append(errs, field.Invalid(s.path("localhostProfile"), p.LocalhostProfile, "can only be set when AppArmor type is Localhost"))
		}
	case "":
		errs = append(errs, field.Required(s.path("type"), "type is required when appArmorProfile is set"))
	default:
		errs = append(errs, field.NotSupported(s.path("type"), p.Type, []corev1.AppArmorProfileType{
			corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined}))
	}
	return errs
}

// sortedCopy returns list sorted, leaving list alone: upstream lists
// supported values from sorted sets.
func sortedCopy[T ~string](list []T) []T {
	out := append([]T(nil), list...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
