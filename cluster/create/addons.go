package create

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/cluster/addons"
	"github.com/kindish/kindish/cluster/config"
)

// clusterAddons are the addons this cluster gets, in kind's order: the CNI
// first, since nodes turn Ready with it.
func clusterAddons(c *Context) []addons.Addon {
	var list []addons.Addon
	if !c.Options.Config.Networking.DisableDefaultCNI {
		list = append(list, addons.KindnetdAddon)
	}
	if c.Options.Config.Networking.KubeProxyMode != config.NoneProxyMode {
		list = append(list, addons.KubeProxyAddon)
	}
	return append(list, addons.CoreDNSAddon)
}

func addonsStatus(*Context) string { return "Installing addons" }

// installAddons applies the cluster's addons through the API server.
func installAddons(ctx context.Context, c *Context) error {
	list := clusterAddons(c)
	dns, err := clusterDNSAddress(c.Options.Config.Networking.ServiceSubnet)
	if err != nil {
		return err
	}
	cp := c.Nodes[firstControlPlane(c.Nodes)]
	p := addons.Params{
		ClusterName:   c.Options.Config.Name,
		PodSubnet:     c.Options.Config.Networking.PodSubnet,
		ServiceSubnet: c.Options.Config.Networking.ServiceSubnet,
		DNSServiceIP:  dns,
		ClusterDomain: clusterDomain,
		APIServerHost: cp.IP.String(),
		APIServerPort: APIServerPort,
	}
	if err := addons.Install(ctx, adminRESTConfig(c), p, list...); err != nil {
		return fmt.Errorf("install addons: %w", err)
	}
	return nil
}

// adminRESTConfig reaches the API server from the host, as the admin.
func adminRESTConfig(c *Context) *rest.Config {
	cert, key := c.PKI.AdminClient()
	return &rest.Config{
		Host:            c.hostServer(),
		TLSClientConfig: rest.TLSClientConfig{CAData: c.PKI.CACert(), CertData: cert, KeyData: key},
		Timeout:         10 * time.Second,
		QPS:             -1,
	}
}
