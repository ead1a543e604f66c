package dns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// maxResolvConfSize bounds how much of a resolv.conf is read; a larger
// file is not a resolver configuration.
const maxResolvConfSize = 10 << 20

// resolvConf is what a resolv.conf says.
type resolvConf struct {
	nameservers, searches, options []string
}

// readResolvConf reads and parses the resolv.conf at path.
func readResolvConf(path string) (resolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return resolvConf{}, err
	}
	defer f.Close()
	return parseResolvConf(f)
}

// parseResolvConf parses resolv.conf the way the resolver does for the
// keywords that matter here: nameserver lines accumulate, and the last
// search and options lines win. Trailing dots are removed from search
// domains, so that "example.com." and "example.com" count once against the
// limits.
func parseResolvConf(r io.Reader) (resolvConf, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResolvConfSize+1))
	if err != nil {
		return resolvConf{}, err
	}
	if len(data) > maxResolvConfSize {
		return resolvConf{}, fmt.Errorf("resolv.conf is larger than %d bytes", maxResolvConfSize)
	}
	conf := resolvConf{nameservers: []string{}, searches: []string{}, options: []string{}}
	var errs []error
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				errs = append(errs, errors.New("nameserver list is empty "))
				continue
			}
			conf.nameservers = append(conf.nameservers, fields[1])
		case "search":
			conf.searches = []string{}
			for _, s := range fields[1:] {
				conf.searches = append(conf.searches, strings.TrimSuffix(s, "."))
			}
		case "options":
			conf.options = fields[1:]
		}
	}
	return conf, utilerrors.NewAggregate(errs)
}
