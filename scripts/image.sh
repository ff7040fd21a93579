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
# --no-check      skip the checks of the built image
# Environment: RELOADD_CACHE, RELOADD_IMAGE_BUILDER=docker|buildah (force),
# RELOADD_IMAGE_KEEP=1 (keep older localhost/reloadd images).
#
# The checks: `reloadd --version` runs inside the image as 65532:65532, the
# image has no shell, and its package metadata is complete (--verify-rootfs
# on the image's files). Two modes used by the Dockerfile's build stage and
# by the checks (docs/image.md explains the layout):
# --rootfs BIN DIR      assemble the runtime root filesystem in DIR: BIN as
#                       /reloadd, every shared library it loads at the path
#                       its Debian package installs it (symlinks kept), the
#                       CA bundle, os-release, passwd/group for 65532, and
#                       for every Debian package a file comes from, its dpkg
#                       status entry (var/lib/dpkg/status.d/<package>), the
#                       md5sums of the files taken from it and its copyright
# --verify-rootfs DIR   fail unless every file of DIR is one of reloadd's
#                       own or listed, with a matching md5, in the md5sums
#                       of a package that has a status entry and copyright
set -euo pipefail

# ------------------------------------------------------ runtime rootfs ---
# The files of the image that no Debian package installs (reloadd's own).
rootfs_own_files='reloadd etc/passwd etc/group etc/hosts etc/nsswitch.conf etc/ssl/certs/ca-certificates.crt'

# Runs in the build stage (Debian with dpkg): see --rootfs above.
rootfs_assemble() { # BIN DIR
    local bin=$1 R=$2 lib pkg f ldso
    declare -A owner=()         # rootfs path -> package it is taken from
    [ -d "$R" ] && [ -n "$(ls -A "$R")" ] && { echo "rootfs: $R is not empty" >&2; return 1; }
    mkdir -p "$R/etc/ssl/certs" "$R/tmp" "$R/home/nonroot" "$R/var/lib/dpkg/status.d"
    chmod 1777 "$R/tmp"
    install -m 0755 "$bin" "$R/reloadd"
    if ldd "$bin" | grep "not found" >&2; then return 1; fi

    # take PATH: copy PATH into the rootfs at the path its package lists it
    # under (/usr merged or not: the package's spelling wins), a symlink as a
    # symlink plus what it points to, and remember the package.
    take() { # PATH
        local p=$1 alt q="" c line t
        case $p in /usr/*) alt=${p#/usr} ;; *) alt=/usr$p ;; esac
        for c in "$p" "$alt"; do
            line=$(dpkg-query -S "$c" 2>/dev/null | head -1) || line=""
            [ -n "$line" ] && { q=$c; break; }
        done
        [ -n "$q" ] || { echo "rootfs: no Debian package owns $p" >&2; return 1; }
        line=${line%%: /*}          # "libc6:amd64" (or "pkg1, pkg2" if shared)
        line=${line%%,*}
        if [ -e "$R$q" ] || [ -L "$R$q" ]; then return 0; fi
        mkdir -p "$R$(dirname "$q")"
        owner[$q]=${line%%:*}
        if [ -L "$q" ]; then
            t=$(readlink "$q")
            ln -s "$t" "$R$q"
            case $t in /*) ;; *) t=$(realpath -m -s "$(dirname "$q")/$t") ;; esac
            take "$t"
        else
            cp -p "$q" "$R$q"
        fi
    }

    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do take "$lib"; done
    # os-release and debian_version (base-files): what scanners read to know
    # the distribution and release the packages come from.
    take /etc/os-release
    take /etc/debian_version
    # The time zones of maintenance windows (docs/windows.md): tzdata's
    # zoneinfo without its leap-second copies (right/), 2 MB. One package
    # owns them all, so no dpkg-query per file.
    if grep -q 'ok installed' <<<"$(dpkg-query -W -f='${Status}' tzdata 2>/dev/null)"; then
        while read -r f; do
            # localtime points at the host's /etc/localtime: the image has none (UTC).
            case $f in /usr/share/zoneinfo/right/* | /usr/share/zoneinfo/localtime) continue ;; esac
            if [ -L "$f" ]; then
                mkdir -p "$R$(dirname "$f")"
                ln -s "$(readlink "$f")" "$R$f"
            elif [ -f "$f" ]; then
                mkdir -p "$R$(dirname "$f")"
                cp -p "$f" "$R$f"
            else
                continue
            fi
            owner[$f]=tzdata
        done < <(dpkg-query -L tzdata | grep '^/usr/share/zoneinfo/')
    fi
    cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$R/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' >"$R/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$R/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$R/etc/hosts"
    chown 65532:65532 "$R/home/nonroot"

    # The package metadata, in the layout distroless images use: one dpkg
    # status entry per package, the md5sums of its files that are here,
    # and its copyright. ca-certificates is listed for the bundle (made by
    # update-ca-certificates from the certificates it installs).
    local pkgs
    pkgs=$( { printf '%s\n' "${owner[@]}"; echo ca-certificates; } | sort -u)
    for pkg in $pkgs; do
        dpkg-query -s "$pkg" >"$R/var/lib/dpkg/status.d/$pkg"
        f=/usr/share/doc/$pkg/copyright
        [ -f "$f" ] || { echo "rootfs: $pkg has no $f" >&2; return 1; }
        dpkg-query -L "$pkg" | grep -x "$f" >/dev/null || { echo "rootfs: $pkg does not own $f" >&2; return 1; }
        mkdir -p "$R$(dirname "$f")"
        cp -p "$f" "$R$f"
        owner[$f]=$pkg
    done
    for f in "${!owner[@]}"; do
        [ -L "$R$f" ] && continue
        (cd "$R" && md5sum "${f#/}") >>"$R/var/lib/dpkg/status.d/${owner[$f]}.md5sums"
    done
    for f in "$R"/var/lib/dpkg/status.d/*.md5sums; do sort -k2 -o "$f" "$f"; done
    chmod 0644 "$R"/var/lib/dpkg/status.d/*

    rootfs_verify "$R"
    # The binary runs in its root filesystem (no ld.so.cache: the loader's
    # own search path finds /lib/<multiarch> and /usr/lib/<multiarch>).
    chroot "$R" /reloadd --version
    echo "rootfs: $(echo "$pkgs" | wc -l) Debian packages, $(du -sk "$R" | cut -f1) KiB" >&2
}

# Fails unless every file of the rootfs DIR is reloadd's own or comes, md5
# for md5, from a package with a status entry and a copyright file; and
# every symlink points to a file of the rootfs.
rootfs_verify() { # DIR
    local R=${1%/} bad=0 f t pkg sum want
    local S=$R/var/lib/dpkg/status.d
    [ -d "$S" ] || { echo "verify: $R has no var/lib/dpkg/status.d" >&2; return 1; }
    declare -A sums=() pkgof=() own=()
    for f in $rootfs_own_files; do own[$f]=1; done
    for f in "$S"/*; do
        case $f in *.md5sums) continue ;; esac
        pkg=$(sed -n 's/^Package: //p' "$f")
        [ "$pkg" = "$(basename "$f")" ] || { echo "verify: $f describes '$pkg'" >&2; bad=1; continue; }
        grep -qx 'Status: install ok installed' "$f" && grep -q '^Version: ' "$f" ||
            { echo "verify: $f has no Status/Version of an installed package" >&2; bad=1; }
        [ -f "$R/usr/share/doc/$pkg/copyright" ] ||
            { echo "verify: package $pkg has no usr/share/doc/$pkg/copyright" >&2; bad=1; }
    done
    for f in "$S"/*.md5sums; do
        pkg=$(basename "$f" .md5sums)
        [ -f "$S/$pkg" ] || { echo "verify: $f has no status entry $S/$pkg" >&2; bad=1; }
        while read -r sum t; do sums[$t]=$sum; pkgof[$t]=$pkg; done <"$f"
    done
    while IFS= read -r -d '' f; do
        f=${f#./}
        case $f in var/lib/dpkg/status.d/*) continue ;; esac
        if [ -L "$R/$f" ]; then
            t=$(readlink "$R/$f")
            case $t in /*) t=$R$t ;; *) t=$R/$(dirname "$f")/$t ;; esac
            [ -e "$t" ] || { echo "verify: /$f -> $(readlink "$R/$f") points nowhere" >&2; bad=1; }
        elif [ -f "$R/$f" ]; then
            [ -n "${own[$f]:-}" ] && continue
            want=${sums[$f]:-}
            if [ -z "$want" ]; then
                echo "verify: /$f is in no package's md5sums" >&2; bad=1
            elif [ "$(md5sum <"$R/$f" | cut -d' ' -f1)" != "$want" ]; then
                echo "verify: /$f differs from package ${pkgof[$f]}'s md5sum" >&2; bad=1
            fi
        fi
    done < <(cd "$R" && find . -path ./proc -prune -o -path ./sys -prune -o -path ./dev -prune -o \( -type f -o -type l \) -print0)
    for f in "${!sums[@]}"; do
        [ -f "$R/$f" ] || { echo "verify: /$f is listed by ${pkgof[$f]} but missing" >&2; bad=1; }
    done
    [ $bad -eq 0 ] || return 1
    echo "verify: $R: $(find "$S" -type f ! -name '*.md5sums' | wc -l) packages with status, md5sums and copyright; every other file is reloadd's own ($rootfs_own_files)" >&2
}

root=$(cd "$(dirname "$0")/.." && pwd)
tag="" archive="" check=1
while [ $# -gt 0 ]; do
    case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    --archive) archive=${2:?--archive needs a value}; shift 2 ;;
    --archive=*) archive=${1#--archive=}; shift ;;
    --no-check) check=0; shift ;;
    --rootfs) rootfs_assemble "${2:?--rootfs needs BIN DIR}" "${3:?--rootfs needs BIN DIR}"; exit ;;
    --verify-rootfs) rootfs_verify "${2:?--verify-rootfs needs DIR}"; exit ;;
    -h|--help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

cd "$root"
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
        log "package metadata of the image's files:"
        ctr=$(docker create "$image")
        mkdir "$tmp/rootfs"
        docker export "$ctr" | tar -C "$tmp/rootfs" -xf -
        docker rm "$ctr" >/dev/null
        rootfs_verify "$tmp/rootfs"
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
    # Before any run adds its mount points (/etc/resolv.conf, ...).
    log "package metadata of the image's files:"
    rootfs_verify "$("${B[@]}" mount "$ctr")"
    "${B[@]}" umount "$ctr" >/dev/null
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
