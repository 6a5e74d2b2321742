#!/usr/bin/env bash
# scripts/dist.sh [VERSION] — build yiwang release artefacts into dist/:
#
#   dist/yiwang_<version>_amd64.deb   dist/yiwang_<version>_arm64.deb
#   dist/yiwang-<version>-1.x86_64.rpm dist/yiwang-<version>-1.aarch64.rpm
#   dist/yiwang-setup-<version>.exe   (when makensis is installed; required in CI)
#   dist/bin/<goos>_<goarch>/yiwang[.exe]
#   dist/SHA256SUMS-<version>
#
# VERSION defaults to `git describe` (v1.2.3 → 1.2.3, commits after a tag →
# 1.2.3+4.gabcdef, no tag → 0.0.0+git.<count>.<hash>). Binaries are pure Go
# (CGO_ENABLED=0) and carry the version in app.version (app.Version() reports it).
#
# Environment:
#   DIST_DIR       output directory (default dist)
#   DIST_ARCHES    linux architectures (default "amd64 arm64")
#   DIST_FORMATS   package formats (default "deb rpm")
#   DIST_WINDOWS   yes|no|auto: build the Windows setup (default auto = if makensis exists)
#   DESKTOP_EXE    path of yiwang-desktop.exe to put in the Windows setup (optional)
#   NFPM           nfpm command (default: go run of a pinned nfpm version)
#   YIWANG_STUB=1  package a placeholder binary when main.go does not exist yet
#                  (packaging tests only; never for a release)
#   SIGN_CERT/SIGN_KEY/SIGN_PASS or SIGN_PKCS12/SIGN_PASS: Authenticode-sign the
#                  Windows executables with osslsigncode (see installer/windows/sign.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

NFPM_VERSION=v2.45.2 # newer releases need go.digitalxero.dev modules the proxy does not serve
NFPM=${NFPM:-"go run github.com/goreleaser/nfpm/v2/cmd/nfpm@${NFPM_VERSION}"}
DIST_DIR=${DIST_DIR:-dist}
DIST_ARCHES=${DIST_ARCHES-"amd64 arm64"}
DIST_FORMATS=${DIST_FORMATS-"deb rpm"}
DIST_WINDOWS=${DIST_WINDOWS:-auto}
mkdir -p "$DIST_DIR"
DIST_DIR=$(cd "$DIST_DIR" && pwd)

version_from_git() {
	local d count hash
	if d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		d=${d#v}
		# 1.2.3-4-gabcdef[-dirty] → 1.2.3+4.gabcdef[.dirty]
		if [[ $d =~ ^([0-9][^-]*)-([0-9]+)-(g[0-9a-f]+)(-dirty)?$ ]]; then
			d="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
			[ -n "${BASH_REMATCH[4]}" ] && d="$d.dirty"
		else
			d=${d/-dirty/+dirty}
		fi
		echo "$d"
		return
	fi
	count=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	hash=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	echo "0.0.0+git.${count}.${hash}"
}

VERSION=${1:-${VERSION:-}}
[ -n "$VERSION" ] || VERSION=$(version_from_git)
VERSION=${VERSION#v}
if ! [[ $VERSION =~ ^[0-9][0-9A-Za-z.+~]*$ ]]; then
	echo "dist: version '$VERSION' must start with a digit and contain only letters, digits, '.', '+', '~' (no '-', rpm forbids it)" >&2
	exit 2
fi
echo "dist: version $VERSION"

LDFLAGS="-s -w -X github.com/yiwang/yiwang/app.version=${VERSION}"
MAIN_PKG=.
if [ ! -f main.go ]; then
	if [ "${YIWANG_STUB:-}" != 1 ]; then
		echo "dist: main.go does not exist yet; set YIWANG_STUB=1 to package a placeholder for packaging tests" >&2
		exit 1
	fi
	STUB_DIR=$(mktemp -d)
	trap 'rm -rf "$STUB_DIR"' EXIT
	cat >"$STUB_DIR/go.mod" <<'MOD'
module yiwangstub

go 1.22
MOD
	cat >"$STUB_DIR/main.go" <<'GO'
// Placeholder yiwang used by packaging tests until main.go exists.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var Version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		fmt.Println("yiwang placeholder: serve (no HTTP server)")
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		return
	}
	fmt.Println("yiwang placeholder", Version)
}
GO
	echo "dist: WARNING: main.go missing, packaging a PLACEHOLDER binary (YIWANG_STUB=1)" >&2
	MAIN_PKG=$STUB_DIR
	LDFLAGS="-s -w -X main.Version=${VERSION}"
fi

build() { # build GOOS GOARCH OUT
	local goos=$1 goarch=$2 out=$3
	mkdir -p "$(dirname "$out")"
	if [ "$MAIN_PKG" = . ]; then
		CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$LDFLAGS" -o "$out" .
	else
		(cd "$MAIN_PKG" && CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS=-mod=mod go build -trimpath -ldflags "$LDFLAGS" -o "$out" .)
	fi
	echo "dist: built $out ($(du -h "$out" | cut -f1))"
}

mkdir -p "$DIST_DIR"
rm -f "$DIST_DIR"/yiwang_"$VERSION"_*.deb "$DIST_DIR"/yiwang-"$VERSION"-1.*.rpm

for arch in $DIST_ARCHES; do
	bin="$DIST_DIR/bin/linux_${arch}/yiwang"
	build linux "$arch" "$bin"
	for fmt in $DIST_FORMATS; do
		case $fmt in
		deb) target="$DIST_DIR/yiwang_${VERSION}_${arch}.deb" ;;
		rpm)
			case $arch in amd64) rarch=x86_64 ;; arm64) rarch=aarch64 ;; *) rarch=$arch ;; esac
			target="$DIST_DIR/yiwang-${VERSION}-1.${rarch}.rpm"
			;;
		*) echo "dist: unknown format $fmt" >&2; exit 2 ;;
		esac
		# nfpm does not expand variables in contents, so render the config.
		sed -e "s|\${VERSION}|$VERSION|g" -e "s|\${ARCH}|$arch|g" -e "s|\${BINARY}|$bin|g" \
			installer/nfpm.yaml >"$DIST_DIR/nfpm-$arch.yaml"
		$NFPM package --config "$DIST_DIR/nfpm-$arch.yaml" --packager "$fmt" --target "$target" >/dev/null
		rm -f "$DIST_DIR/nfpm-$arch.yaml"
		echo "dist: packaged $target ($(du -h "$target" | cut -f1))"
	done
done

case $DIST_WINDOWS in
auto) if command -v makensis >/dev/null; then DIST_WINDOWS=yes; elif [ -n "${CI:-}" ]; then
	echo "dist: makensis is required in CI" >&2; exit 1; else
	echo "dist: makensis not installed, skipping the Windows setup"; DIST_WINDOWS=no; fi ;;
esac
if [ "$DIST_WINDOWS" = yes ]; then
	exe="$DIST_DIR/bin/windows_amd64/yiwang.exe"
	build windows amd64 "$exe"
	installer/windows/build.sh "$VERSION" "$exe" "${DESKTOP_EXE:-}" "$DIST_DIR/yiwang-setup-${VERSION}.exe"
fi

(cd "$DIST_DIR" && sha256sum -- *"$VERSION"* 2>/dev/null | grep -v '\.yaml$' >"SHA256SUMS-$VERSION" || true)
echo "dist: done (checksums in $DIST_DIR/SHA256SUMS-$VERSION)"
ls -l "$DIST_DIR" | grep -E '\.(deb|rpm|exe)$' || true
