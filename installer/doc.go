// Package installer holds yiwang's packaging: the nfpm configuration for the
// .deb and .rpm (nfpm.yaml, linux/), the Windows NSIS setup (windows/), the
// service manager integration used by `yiwang service` (service/) and a PE
// checker for the setup (pecheck/). scripts/dist.sh builds everything;
// scripts/test-deb.sh and scripts/test-nsis.sh exercise the results.
//
// This package itself only carries tests that keep the packaging files
// consistent: every file nfpm.yaml names exists and the maintainer scripts
// parse as POSIX sh.
package installer
