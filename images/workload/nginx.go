package workload

import (
	"fmt"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs"
)

// Where Debian's nginx has its parts.
const (
	nginxBinary = "/usr/sbin/nginx"
	nginxConf   = "/etc/nginx"
	// nginxModulesEnabled holds the load_module snippets nginx.conf
	// includes: links into /usr/share/nginx/modules-available, made by the
	// libnginx-mod-* packages.
	nginxModulesEnabled = "/etc/nginx/modules-enabled"
	// nginxPrefix is the --prefix Debian builds nginx with: relative
	// load_module paths start there.
	nginxPrefix = "/usr/share/nginx"
	// nginxWebRoot holds the default site's page, index.nginx-debian.html,
	// which nginx-common's postinst copies there.
	nginxWebRoot = "/var/www/html"
	// nsswitch tells glibc to look users up in /etc/passwd: nginx's
	// `user www-data`.
	nsswitch = "/etc/nsswitch.conf"
)

// nginxRecipe makes nginx:latest: Debian's nginx with the libraries it
// loads, its configuration as nginx-common installs it (the default site
// serving /var/www/html on port 80), and logs on the container's output as
// the upstream image has them.
var nginxRecipe = debianRecipe{
	name:  "nginx",
	pick:  pickNginx,
	image: nginxImage,
}

// pickNginx takes Debian's files of the image at the paths they have in
// the base: the binary and its libraries, /etc/nginx whole (with what its
// links point to, and the modules that modules-enabled loads), the default
// page and the resolver's configuration.
func pickNginx(c *rootfs.Collector) error {
	if err := c.Require(nginxBinary); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	if err := c.Tree(nginxConf); err != nil {
		return fmt.Errorf("nginx configuration: %w", err)
	}
	modules, err := enabledModules(c)
	if err != nil {
		return fmt.Errorf("nginx modules: %w", err)
	}
	for _, m := range modules {
		if err := c.Require(m); err != nil {
			return fmt.Errorf("nginx module: %w", err)
		}
	}
	if err := c.Tree(nginxWebRoot); err != nil {
		return fmt.Errorf("nginx default page: %w", err)
	}
	if err := c.Require(path.Join(nginxWebRoot, "index.nginx-debian.html")); err != nil {
		return fmt.Errorf("nginx default page: %w", err)
	}
	if err := c.Require(nsswitch); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	return nil
}

func nginxImage(c *rootfs.Collector) (spec, error) {
	if err := pickNginx(c); err != nil {
		return spec{}, err
	}
	own := append(accountFiles(rootAccount, wwwDataAccount, nobodyAccount),
		// nginx.conf logs to these files; as in the upstream image, they are
		// the container's output, which `docker logs` and `kubectl logs`
		// show. nginx opens them as root, before it drops to www-data.
		archive.Dir("/var/log/nginx", 0o755),
		archive.Symlink("/var/log/nginx/access.log", "/dev/stdout"),
		archive.Symlink("/var/log/nginx/error.log", "/dev/stderr"),
		// nginx makes its temporary directories (body, proxy...) here at
		// start, owned by www-data.
		archive.Dir("/var/lib/nginx", 0o755),
		// For the pid file, /run/nginx.pid.
		archive.Dir("/run", 0o755),
		tmpDir(),
	)
	for _, f := range own {
		if err := c.Add(f); err != nil {
			return spec{}, fmt.Errorf("nginx: %w", err)
		}
	}
	cfg := v1.Config{
		// In the foreground, as the container's main process; as a command
		// rather than an entrypoint, as upstream has it, so that a pod's
		// args replace it whole.
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		// SIGQUIT is nginx's graceful shutdown: requests in flight finish.
		StopSignal: "SIGQUIT",
	}
	return newSpec("nginx", []string{Nginx}, c.Files(), cfg,
		"nginx from Debian's nginx and nginx-common, with its libraries"), nil
}

// enabledModules returns the module files that the snippets of
// modules-enabled load (`load_module modules/ngx_x.so;`), as absolute
// paths. The snippets themselves come with /etc/nginx.
func enabledModules(c *rootfs.Collector) ([]string, error) {
	dir, err := c.Resolve(nginxModulesEnabled)
	if err != nil {
		// nginx.conf includes modules-enabled/*.conf: no directory, no
		// modules.
		return nil, nil
	}
	entries, err := os.ReadDir(c.Host(dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		snippet, err := c.Resolve(path.Join(nginxModulesEnabled, e.Name()))
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(c.Host(snippet))
		if err != nil {
			return nil, err
		}
		out = append(out, loadedModules(string(text))...)
	}
	return out, nil
}

// loadedModules returns the files of an nginx configuration's load_module
// directives, relative ones under nginxPrefix.
func loadedModules(conf string) []string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(strings.ReplaceAll(line, ";", " ; "))
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] != "load_module" {
				continue
			}
			p := strings.Trim(fields[i+1], `"'`)
			if !path.IsAbs(p) {
				p = path.Join(nginxPrefix, p)
			}
			out = append(out, p)
		}
	}
	return out
}
