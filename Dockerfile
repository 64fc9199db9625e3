# Omni FastCGI pool image.  The front server (nginx or Caddy, configs in
# nginx/ and caddy/) runs beside it and reaches the pool over TCP or a
# shared unix socket volume.
#
#   docker build -t omni .
#   docker run -e OMNI_ENV=production ... -p 9000:9000 omni
FROM debian:12 AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential pkg-config libfcgi-dev libcurl4-openssl-dev \
      libjson-c-dev libssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libfcgi0ldbl libcurl4 libjson-c5 libssl3 ca-certificates bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/omni --create-home omni \
 && useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin omni-sandbox
COPY --from=build /src/build/omni-fcgi /usr/local/bin/omni-fcgi
# Unprivileged, Omni runs local sandbox commands as itself; omni-sandbox
# (OMNI_SANDBOX_USER) is the user they drop to if the image is run as root.
USER omni
ENV OMNI_DATA_DIR=/var/lib/omni
EXPOSE 9000
# SIGTERM drains: requests in flight finish within OMNI_SHUTDOWN_TIMEOUT.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/omni-fcgi"]
CMD ["--listen", "0.0.0.0:9000"]
