# reloadd container image.
#
#   build stage   Debian bookworm with the -dev packages; cmake Release build
#                 (no tests), stripped binary; then `scripts/image.sh --rootfs`
#                 makes the runtime root filesystem: the binary, the shared
#                 libraries it loads at the paths their Debian packages
#                 install them, the CA bundle, os-release, passwd/group for
#                 uid 65532, and the package metadata scanners read (one
#                 /var/lib/dpkg/status.d/<package> entry, its .md5sums and
#                 /usr/share/doc/<package>/copyright for every package a file
#                 comes from: the layout of distroless images). It checks that
#                 every file is reloadd's own or a package's (--verify-rootfs)
#                 and runs the binary chrooted in it. docs/image.md says why.
#   runtime stage FROM scratch + that root filesystem: no shell, no package
#                 manager, runs as 65532:65532, ENTRYPOINT ["/reloadd"].
#
# Build: scripts/image.sh (docker when a daemon answers, else buildah with a
# locally made base image); a plain `docker build .` works too. Build args:
#   BASE_IMAGE   base of the build stage (default debian:bookworm; image.sh
#                passes localhost/debian:bookworm when no registry is reachable)
#   VERSION      version string baked into the binary and the labels
#   REVISION     git commit; SOURCE: where the source lives; CREATED: RFC 3339
ARG BASE_IMAGE=debian:bookworm

FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      ca-certificates cmake gcc libc6-dev make pkg-config tzdata \
      libcurl4-openssl-dev libcjson-dev libssl-dev libbsd-dev \
      libyaml-dev libmicrohttpd-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
ARG VERSION=0.1.0
# The context has no .git: the version is the VERSION file's
# (cmake/version.cmake) unless --build-arg VERSION gives it (scripts/image.sh).
RUN cmake -S . -B /build -DRL_TESTS=OFF -DCMAKE_BUILD_TYPE=Release -DRL_VERSION="${VERSION}" \
      -DCMAKE_C_FLAGS="-D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro,-z,now" >/dev/null \
 && cmake --build /build -j"$(nproc)" --target reloadd \
 && strip --strip-unneeded /build/reloadd

# The runtime root filesystem and its package metadata (scripts/image.sh).
RUN bash scripts/image.sh --rootfs /build/reloadd /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="reloadd" \
      org.opencontainers.image.description="Rolls Kubernetes workloads when the ConfigMaps and Secrets they use change; a drop-in replacement for Stakater Reloader" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /rootfs/ /
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/reloadd"]
