# reloadd container image.
#
#   build stage   Debian bookworm with the -dev packages; cmake Release build
#                 (no tests), stripped binary; then a root filesystem made of
#                 the binary, exactly the shared libraries `ldd` lists for it,
#                 the CA bundle, and passwd/group entries for uid 65532.
#   runtime stage FROM scratch + that root filesystem: no shell, no package
#                 manager, runs as 65532:65532, ENTRYPOINT ["/reloadd"].
#
# Build: scripts/image.sh (docker when a daemon answers, else buildah with a
# locally made base image). Build args:
#   BASE_IMAGE   base of the build stage (default debian:bookworm; image.sh
#                passes localhost/debian:bookworm when no registry is reachable)
#   VERSION      version string baked into the binary and the labels
#   REVISION     git commit; SOURCE: where the source lives; CREATED: RFC 3339
ARG BASE_IMAGE=debian:bookworm

FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      ca-certificates cmake gcc libc6-dev make pkg-config \
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

# The runtime root filesystem: the binary, the libraries ldd resolves for it
# (same paths, symlinks followed), the CA bundle, a non-root user.
RUN set -eu; R=/rootfs; \
    mkdir -p "$R/etc/ssl/certs" "$R/tmp"; chmod 1777 "$R/tmp"; \
    install -m 0755 /build/reloadd "$R/reloadd"; \
    if ldd /build/reloadd | grep "not found"; then exit 1; fi; \
    for lib in $(ldd /build/reloadd | grep -o '/[^ ]*' ); do \
        mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; \
    done; \
    cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$R/etc/passwd"; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$R/etc/group"; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$R/etc/nsswitch.conf"; \
    printf '127.0.0.1 localhost\n::1 localhost\n' > "$R/etc/hosts"; \
    mkdir -p "$R/home/nonroot"; chown 65532:65532 "$R/home/nonroot"; \
    ldso=$(ldd /build/reloadd | awk '/ld-linux/ {print $1}'); \
    "$R$ldso" --inhibit-cache --library-path "$R/lib/$(gcc -print-multiarch):$R/usr/lib/$(gcc -print-multiarch)" \
        "$R/reloadd" --version

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
