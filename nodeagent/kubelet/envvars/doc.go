// Package envvars computes the environment a container starts with, the way
// the kubelet does: the Docker-link variables of services, then envFrom
// sources, then env entries with $(VAR) references expanded and valueFrom
// sources (downward API fields and resources, configMap and secret keys)
// resolved.
//
// Failures carry upstream's exact messages (`configmap "x" not found`,
// `couldn't find key k in Secret ns/s`, ...) because they become the
// message of the container's CreateContainerConfigError that kubectl shows.
package envvars
