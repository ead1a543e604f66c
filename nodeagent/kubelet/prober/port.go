package prober

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// resolveContainerPort turns a probe's port, a number or the name of one of
// the container's ports, into a number. The error texts are upstream's:
// users recognise `strconv.Atoi: parsing "http": invalid syntax` in events as
// a port name the container does not declare.
func resolveContainerPort(param intstr.IntOrString, c *corev1.Container) (int, error) {
	port := -1
	switch param.Type {
	case intstr.Int:
		port = param.IntValue()
	case intstr.String:
		named, ok := findPortByName(c, param.StrVal)
		if ok {
			port = named
			break
		}
		// A number written as a string is a port too.
		n, err := strconv.Atoi(param.StrVal)
		if err != nil {
			return -1, err
		}
		port = n
	default:
		return port, fmt.Errorf("intOrString had no kind: %+v", param)
	}
	if port > 0 && port < 65536 {
		return port, nil
	}
	return port, fmt.Errorf("invalid port number: %v", port)
}

func findPortByName(c *corev1.Container, name string) (int, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort), true
		}
	}
	return 0, false
}
