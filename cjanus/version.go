package cjanus

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"regexp"
)

// Version is the build's version: the Makefile sets it to `git describe`
// with -ldflags "-X github.com/janus-sfu-go/janus-plugin-sfu/cjanus.Version=...".
// Janus shows it as the plugin's version_string (/info, the admin API), and
// the plugin logs it at start.
var Version = "dev"

// semver matches a release tag, possibly with describe's suffix
// (v1.2.3-4-gabcdef-dirty).
var semver = regexp.MustCompile(`^v?(\d{1,3})\.(\d{1,2})\.(\d{1,2})(?:[-+].*)?$`)

// versionNumber is Version as Janus's integer get_version (1.2.3 is
// 10203), 0 when Version is no release tag.
func versionNumber(v string) int {
	m := semver.FindStringSubmatch(v)
	if m == nil {
		return 0
	}
	var major, minor, patch int
	fmt.Sscan(m[1], &major)
	fmt.Sscan(m[2], &minor)
	fmt.Sscan(m[3], &patch)
	return major*10000 + minor*100 + patch
}

// cjGoVersion gives C the version string (which C keeps for the life of
// the process) and, in *number, its integer form.
//
//export cjGoVersion
func cjGoVersion(number *C.int) (out *C.char) {
	defer recoverExport("get_version")
	if number != nil {
		*number = C.int(versionNumber(Version))
	}
	return C.CString(Version)
}
