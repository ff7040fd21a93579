#!/usr/bin/env bash
# scripts/image.sh [--tag IMAGE] [--archive FILE] [--no-check]
#
# Builds the reloadd container image from the Dockerfile (what `make image`
# runs), reports its size, and runs `reloadd --version` inside it as the
# image's non-root user.
#
#   - With a Docker daemon that answers: `docker build` (base images pulled
#     from the registry as usual).
#   - Otherwise: buildah (Debian package, installed with apt-get if missing)
#     with the vfs storage driver and chroot isolation, so it runs as root
#     without any daemon. No registry is needed: the build stage's base,
#     localhost/debian:bookworm, is made here once with debootstrap from the
#     Debian mirror that apt on this machine is configured with, cached as a
#     tarball in $RELOADD_CACHE (default ~/.cache/reloadd) and imported into
#     buildah's store. buildah 1.28 keys its layer cache on every build arg
#     (the version and date change each time), so no layer cache is kept:
#     vfs stores each layer as a full copy, and after a build the previous
#     localhost/reloadd:* tags and dangling images are removed (disk use stays
#     at the base image plus one reloadd image; RELOADD_IMAGE_KEEP=1 keeps
#     them). What is cached is the debootstrap tarball and the base image.
#
# --tag IMAGE     image name (default localhost/reloadd:<version>, the
#                 version of cmake/version.cmake, as `reloadd --version`;
#                 also tagged localhost/reloadd:<VERSION file>, the tag the
#                 chart and the kustomize manifests use, and :latest)
# --archive FILE  also write a docker-archive tarball (for `kind load
#                 image-archive` or `docker load`)
# --no-check      skip the run-inside-the-image check
# Environment: RELOADD_CACHE, RELOADD_IMAGE_BUILDER=docker|buildah (force),
# RELOADD_IMAGE_KEEP=1 (keep older localhost/reloadd images).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tag="" archive="" check=1
while [ $# -gt 0 ]; do
    case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    --archive) archive=${2:?--archive needs a value}; shift 2 ;;
    --archive=*) archive=${1#--archive=}; shift ;;
    --no-check) check=0; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "image: $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }
t0=$SECONDS

version=$(cmake -DSRC="$root" -DPRINT=1 -P cmake/version.cmake)
release=$(tr -d ' \n' <VERSION)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${RELOADD_SOURCE_URL:-$(git remote get-url origin 2>/dev/null || echo unknown)}
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
image=${tag:-localhost/reloadd:$version}
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision"
            --build-arg "SOURCE=$source_url" --build-arg "CREATED=$created")
cache=${RELOADD_CACHE:-$HOME/.cache/reloadd}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

builder=${RELOADD_IMAGE_BUILDER:-}
if [ -z "$builder" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        builder=docker
    else
        builder=buildah
    fi
fi

# A static helper that prints the uid/gid it runs as; bind-mounted into the
# image (which has no shell and no `id`) to show who the image runs as.
make_whoami() { # dir
    cat >"$1/whoami.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(void)
{
    printf("uid=%u gid=%u euid=%u\n", (unsigned)getuid(), (unsigned)getgid(), (unsigned)geteuid());
    return 0;
}
C
    cc -static -O2 -o "$1/whoami" "$1/whoami.c"
}

# ---------------------------------------------------------------- docker ---
if [ "$builder" = docker ]; then
    log "building $image with docker"
    docker build "${build_args[@]}" -t "$image" -t "localhost/reloadd:$release" \
        -t localhost/reloadd:latest -f Dockerfile .
    log "built in $((SECONDS - t0)) s"
    size=$(docker image inspect -f '{{.Size}}' "$image")
    log "size: $((size / 1024)) KiB ($image)"
    if [ $check -eq 1 ]; then
        tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
        make_whoami "$tmp"
        docker run --rm "$image" --version
        docker run --rm -v "$tmp/whoami:/.whoami:ro" --entrypoint /.whoami "$image"
    fi
    [ -z "$archive" ] || docker save -o "$archive" "$image"
    exit 0
fi

# --------------------------------------------------------------- buildah ---
need_pkg() { # command package
    command -v "$1" >/dev/null && return 0
    log "installing $2 (apt-get)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need_pkg buildah buildah
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
B=(buildah --storage-driver vfs)
[ -z "$sudo" ] || B=("$sudo" "${B[@]}")

# Prints "URI SUITE" for every Debian bookworm* source apt is configured with
# (one-line sources.list and deb822 .sources formats).
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                           if ($(i+1) ~ /^bookworm/) print $i, $(i+1) }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no")
                                  for (u in uris) for (s in suites) if (suites[s] ~ /^bookworm/) print uris[u], suites[s]
                                delete uris; delete suites; types = ""; enabled = "" }
             /^[ \t]*$/ { flush(); next }
             /^#/ { next }
             { key = tolower($1); sub(/:$/, "", key); $1 = "" }
             key == "types" { types = $0 }
             key == "enabled" { enabled = tolower($2) }
             key == "uris" { split($0, a, " "); for (i in a) uris[length(uris) + 1] = a[i] }
             key == "suites" { split($0, a, " "); for (i in a) suites[length(suites) + 1] = a[i] }
             END { flush() }' "$f"
    done
}

base=localhost/debian:bookworm
rootfs_tar=$cache/rootfs-bookworm.tar
make_rootfs() {
    need_pkg debootstrap debootstrap
    local srcs mirror dir
    srcs=$(apt_sources | sort -u)
    mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$srcs")
    [ -n "$mirror" ] || die "no Debian bookworm source in /etc/apt/sources.list*: cannot debootstrap"
    mkdir -p "$cache"
    dir=$(mktemp -d "$cache/rootfs.XXXXXX")
    # debootstrap mounts /proc and /sys inside the target; never leave them.
    trap 'for m in proc sys dev/pts dev; do umount -l "'"$dir"'/$m" 2>/dev/null || true; done; rm -rf "'"$dir"'"' EXIT
    log "debootstrap bookworm (minbase) from $mirror into $dir (first time only)"
    local t=$SECONDS
    $sudo debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
    # apt inside the image uses the same mirrors as this machine.
    awk '{ print "deb", $1, $2, "main" }' <<<"$srcs" >"$dir/etc/apt/sources.list"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/tmp/*
    $sudo tar --numeric-owner -C "$dir" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    log "rootfs: $(du -m "$rootfs_tar" | cut -f1) MiB in $((SECONDS - t)) s ($rootfs_tar)"
    for m in proc sys dev/pts dev; do umount -l "$dir/$m" 2>/dev/null || true; done
    rm -rf "$dir"
    trap - EXIT
}

if ! "${B[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    [ -f "$rootfs_tar" ] || make_rootfs
    log "importing $rootfs_tar as $base"
    ctr=$("${B[@]}" from --pull=never scratch)
    "${B[@]}" add "$ctr" "$rootfs_tar" / >/dev/null
    "${B[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --label org.opencontainers.image.description="Debian bookworm minbase, debootstrapped locally" "$ctr"
    "${B[@]}" commit --rm "$ctr" "$base" >/dev/null
fi

log "building $image with buildah (vfs, chroot isolation; base $base)"
t=$SECONDS
"${B[@]}" bud --pull=never --isolation chroot \
    --build-arg "BASE_IMAGE=$base" "${build_args[@]}" \
    -t "$image" -t "localhost/reloadd:$release" -t localhost/reloadd:latest -f Dockerfile .
log "built in $((SECONDS - t)) s"
if [ "${RELOADD_IMAGE_KEEP:-}" != 1 ]; then
    olds=$("${B[@]}" images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep '^localhost/reloadd:' |
           grep -vx -e "$image" -e "localhost/reloadd:$release" -e localhost/reloadd:latest || true)
    for old in $olds; do "${B[@]}" rmi "$old" >/dev/null 2>&1 || true; done
    "${B[@]}" rmi --prune >/dev/null 2>&1 || true
fi
"${B[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image" | sed 's/^/image: size: /' >&2

if [ $check -eq 1 ]; then
    tmp=$(mktemp -d)
    ctr=""
    trap '[ -z "$ctr" ] || "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
    make_whoami "$tmp"
    ctr=$("${B[@]}" from --pull=never "$image")
    user=$("${B[@]}" inspect --type container --format '{{.OCIv1.Config.User}}' "$ctr")
    log "configured user: $user"
    [ "${user%%:*}" = 65532 ] || die "image user is '$user', want 65532"
    log "reloadd --version inside the image:"
    "${B[@]}" run "$ctr" -- /reloadd --version
    ids=$("${B[@]}" run -v "$tmp/whoami:/.whoami:ro" "$ctr" -- /.whoami)
    log "the image's process runs as: $ids"
    [ "$ids" = "uid=65532 gid=65532 euid=65532" ] || die "the image does not run as 65532:65532"
    if "${B[@]}" run "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
        die "the image has a shell (/bin/sh)"
    fi
    log "no shell in the image (/bin/sh absent)"
fi
if [ -n "$archive" ]; then
    rm -f "$archive"
    "${B[@]}" push "$image" "docker-archive:$archive:$image" >/dev/null
    log "wrote $archive"
fi
log "done in $((SECONDS - t0)) s: $image"
