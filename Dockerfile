# Omni FastCGI pool image: build/omni-fcgi on Debian bookworm-slim, run as
# the unprivileged user omni (uid 10001).  The front server runs beside
# it: the configs in nginx/ and caddy/ reach the pool over a unix socket
# on a shared volume (run the image with `--listen
# unix:/run/omni/omni.sock` and HEALTHCHECK_ADDR=unix:/run/omni/omni.sock);
# the default command listens on TCP port 9000 for other fronts.
# docs/deploy.md, "Image: build, scan and push", has the whole procedure;
# scripts/deploy.sh builds, tags and rolls back.
#
#   buildah bud --isolation chroot --layers --format docker \
#       --build-arg VERSION=$(cat VERSION) --build-arg REVISION=$(git rev-parse HEAD) \
#       -t omni:$(cat VERSION) .         # or: docker build ... -t omni:... .
#   docker run --env-file omni.env -p 127.0.0.1:9000:9000 omni:1.2.0
#
# The image holds no secret and defaults to OMNI_ENV=production, which
# refuses to start (exit 78, naming the variable) until the deployment
# gives it its configuration (docs/configuration.md).  --format docker:
# the OCI image format has no HEALTHCHECK.

# A digest may be pinned here: --build-arg BASE_IMAGE=debian:bookworm-slim@sha256:...
ARG BASE_IMAGE=debian:bookworm-slim

# ---- build: the Makefile's own compile (-O2 -g -Wall -Wextra -Werror) ----
FROM ${BASE_IMAGE} AS build
# The -dev packages of the Makefile's PKGS (fcgi libcurl json-c libcrypto
# cmocka: pkg-config must find all of them for the include flags).  The
# image ships only omni-fcgi; the local executor (SQLite, libmicrohttpd) is
# development-only and not built here.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential pkg-config libfcgi-dev libcurl4-openssl-dev \
      libjson-c-dev libssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the compile reads, so the layer below stays cached until code
# changes.  No .git here (.dockerignore): the Makefile's revision is
# "unknown" until the REVISION argument below gives it.
COPY Makefile VERSION ./
COPY include/ include/
COPY app/ app/
COPY handlers/ handlers/
RUN make -j"$(nproc)" build/omni-fcgi
# The version (default: the VERSION file) and revision the binary reports
# (--version, omni_build_info): only app/build_info.c is compiled again,
# so a new revision costs a link, not a build.
ARG VERSION=
ARG REVISION=unknown
RUN make build/omni-fcgi ${VERSION:+OMNI_VERSION="$VERSION"} \
      OMNI_REVISION="$REVISION" \
 && ./build/omni-fcgi --version

# ---- runtime: libraries only -------------------------------------------
FROM ${BASE_IMAGE}
# libfcgi-bin: cgi-fcgi, the HEALTHCHECK's FastCGI client.  bubblewrap:
# the local sandbox provider (development and staging; production uses
# Daytona).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libfcgi0ldbl libfcgi-bin libcurl4 libjson-c5 libssl3 ca-certificates \
      bubblewrap \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 omni \
 && useradd --system --uid 10001 --gid omni --home-dir /var/lib/omni \
      --create-home --shell /usr/sbin/nologin omni \
 && useradd --system --uid 10002 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin omni-sandbox \
 && chmod 0750 /var/lib/omni \
 && install -d -o omni -g omni -m 0750 /run/omni
# As built, with its debug information (-g): gdb and core dumps stay useful.
COPY --from=build /src/build/omni-fcgi /usr/local/bin/omni-fcgi
# Version and revision from here on.  They are written into a file as
# well as into the labels below: a RUN is keyed on the arguments' values,
# so buildah's layer cache cannot hand back the labels of another revision
# (it keys LABEL on its text alone).  VERSION empty: the binary reports
# the VERSION file, and the version label stays empty (scripts/deploy.sh
# and `make image` always pass it).
ARG VERSION=
ARG REVISION=unknown
ARG SOURCE=
RUN { printf 'version=%s\nrevision=%s\nsource=%s\n' "$VERSION" "$REVISION" \
      "$SOURCE"; /usr/local/bin/omni-fcgi --version; } >/etc/omni-build-info
# Unprivileged, Omni runs local sandbox commands as itself; omni-sandbox
# (OMNI_SANDBOX_USER) is the user they drop to if the image is run as root.
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/omni
# The safe profile unless the deployment says otherwise.  Set OMNI_ENV in
# the container's environment (-e, env_file:, a pod's env), not in an
# --env-file: the real environment wins over the file.  OMNI_DATA_DIR is
# /var/lib/omni by the production and staging defaults.
ENV OMNI_ENV=production
# glibc's malloc tuned for the pool: deploy/malloc.env says why, and the
# image test checks that this line matches it.
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=32
EXPOSE 9000
# SIGTERM drains: requests in flight finish within OMNI_SHUTDOWN_TIMEOUT
# (default 30 s; give the orchestrator's stop timeout a margin above it).
STOPSIGNAL SIGTERM
# GET / over FastCGI (touches no dependency), passing only the parameters
# a front server would; healthy when the pool answers 200.  HEALTHCHECK_ADDR
# is where the pool listens: host:port (default 127.0.0.1:9000) or
# unix:/path when it is run with --listen unix:/path.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD a="${HEALTHCHECK_ADDR:-127.0.0.1:9000}"; \
      env -i REQUEST_METHOD=GET REQUEST_URI=/ SERVER_PROTOCOL=HTTP/1.1 \
        REMOTE_ADDR=127.0.0.1 timeout 4 cgi-fcgi -bind -connect "${a#unix:}" \
      | head -n 1 | grep -q '^Status: 200'
ENTRYPOINT ["/usr/local/bin/omni-fcgi"]
CMD ["--listen", "0.0.0.0:9000"]

# CREATED is left out of the file: a rebuild of the same revision reuses
# the cached image, and with it the time it was first created.
ARG CREATED=
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="omni" \
      org.opencontainers.image.description="Omni FastCGI responder pool (omni-fcgi)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
