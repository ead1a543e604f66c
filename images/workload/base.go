package workload

import "github.com/kindish/kindish/images/nodeimage"

// Base is the Debian base the busybox and nginx images take their files
// from. It is never run: its packages are only installed and configured.
var Base = nodeimage.Base{
	Repository:  "kindish/workload-base",
	Packages:    []string{"busybox-static", "nginx"},
	Setup:       baseSetup,
	Description: "kindish Debian " + nodeimage.Suite + " base of the workload images",
}

// appletList is where the base keeps `busybox --list-full`: the path of
// every applet, relative to the root ("bin/sh", "usr/bin/wget").
const appletList = "/usr/share/kindish/busybox.applets"

// baseSetup is the workload base's own setup (nodeimage.Base.Setup).
const baseSetup = `# busybox-static installs the binary alone. The image links every applet
# at the path the binary lists; the list is taken here, once, so that no
# image build runs anything from the base.
mkdir -p "$root/usr/share/kindish"
chroot "$root" /bin/busybox --list-full >"$root` + appletList + `"
test -s "$root` + appletList + `"

# nginx's postinst starts nginx. While debootstrap configures packages, a
# policy-rc.d forbids it and start-stop-daemon is a fake; make sure nothing
# got through all the same: it would be running on the host, in the host's
# network, out of a directory about to be deleted.
real=$(readlink -f "$root")
for p in /proc/[0-9]*; do
	if [ "$(readlink "$p/root" 2>/dev/null)" = "$real" ]; then
		echo "process ${p#/proc/} runs in the new root: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" >&2
		exit 1
	fi
done

`
