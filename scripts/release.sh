#!/usr/bin/env bash
# scripts/release.sh X.Y.Z [--no-image]  (make release V=X.Y.Z)
#
# Makes release X.Y.Z in one step: writes the version into every place that
# names it - VERSION, the chart's version and appVersion, the kustomize
# image tag, the Dockerfile's default - commits that as "release X.Y.Z",
# tags the commit vX.Y.Z, and builds the image (scripts/image.sh), which is
# then localhost/reloadd:X.Y.Z, the tag the chart and the manifests use;
# `reloadd --version` of that build prints X.Y.Z (cmake/version.cmake).
# tests/deploy/check.sh fails if the places ever disagree. Needs a clean
# tree; pushing the commit, the tag and the image is left to you.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
v=${1:-}
image=1
[ "${2:-}" = --no-image ] && image=0
die() { echo "release: $*" >&2; exit 1; }
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "usage: scripts/release.sh X.Y.Z [--no-image] (got '$v')"
[ -z "$(git status --porcelain --untracked-files=no)" ] || die "the tree has uncommitted changes"
! git rev-parse -q --verify "refs/tags/v$v" >/dev/null || die "tag v$v exists already"

echo "$v" >VERSION
sed -i -E "s/^version: .*/version: $v/; s/^appVersion: .*/appVersion: \"$v\"/" deploy/helm/reloadd/Chart.yaml
sed -i -E "s/^(    newTag: )[^ ]+/\1$v/" deploy/kubernetes/base/kustomization.yaml
sed -i -E "s/^ARG VERSION=.*/ARG VERSION=$v/" Dockerfile
git add VERSION deploy/helm/reloadd/Chart.yaml deploy/kubernetes/base/kustomization.yaml Dockerfile
git commit -q -m "release $v"
git tag -a "v$v" -m "reloadd $v"
echo "release: committed and tagged v$v" >&2
[ $image -eq 0 ] || scripts/image.sh
