# syntax=docker/dockerfile:1
# Build: docker build -t pmsync --build-arg VERSION=$(git describe --tags --always) \
#          --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%FT%TZ) .
# Try:   docker run --rm -p 127.0.0.1:8080:8080 pmsync
#        (the default command is the demo: simulated vendors, the dashboard on :8080)
# Run:   docker run -d --name pmsync -p 8080:8080 -v pmsync-data:/var/lib/pmsync \
#          -v $PWD/pmsync.yaml:/etc/pmsync/pmsync.yaml:ro --env-file secrets.env pmsync run
# With run the container listens on 0.0.0.0:8080, so the config must set
# http.auth_token_env (pmsync refuses a non-loopback listen without a token).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# The module and build caches persist between builds (BuildKit cache
# mounts), so a rebuild after a code change compiles only what changed.
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
# go-sqlite3 needs cgo; the binary links glibc dynamically, so the runtime
# image is Debian too.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/pmsync ./cmd/pmsync

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/pmsync --shell /usr/sbin/nologin pmsync \
 && mkdir -p /var/lib/pmsync /etc/pmsync \
 && chown pmsync:pmsync /var/lib/pmsync && chmod 0700 /var/lib/pmsync
COPY --from=build /out/pmsync /usr/local/bin/pmsync
COPY configs/example.yaml configs/pmsync.schema.json /etc/pmsync/
USER pmsync
VOLUME ["/var/lib/pmsync"]
# MALLOC_ARENA_MAX=1: SQLite's page writes through cgo suffer from glibc
# returning memory from many arenas; see BENCHMARKS.md for the measurement.
ENV PMSYNC_CONFIG=/etc/pmsync/pmsync.yaml \
    MALLOC_ARENA_MAX=1 \
    PMSYNC_DATABASE=/var/lib/pmsync/pmsync.db \
    PMSYNC_HTTP_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pmsync"]
# The demo profile works with no configuration at all: its simulated
# vendors run inside the process. `run` is the daemon for a mounted config.
CMD ["demo", "--serve", "--listen", "0.0.0.0:8080", "--db", "/var/lib/pmsync/demo.db"]
