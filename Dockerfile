# blogflow in a container: a multi-stage build (Rust + llama.cpp toolchain) and a small Debian
# runtime that runs as an unprivileged user.
#
#   docker build -t blogflow .
#   docker run -p 3000:3000 -v blogflow:/var/lib/blogflow blogflow            # all-in-one
#   docker compose up                                                         # serve + workers + Redis
#
# The binary is built for a portable x86-64-v2 CPU, not for the build machine (the repository's
# .cargo/config.toml says `native`, which would tie the image to the builder's CPU).

FROM rust:1.95-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake clang libclang-dev pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-cpu=x86-64-v2"
RUN cargo build --release --locked --bin blogflow \
 && install -m 0755 target/release/blogflow /usr/local/bin/blogflow

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates libssl3 libgomp1 git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/blogflow --create-home blogflow
COPY --from=build /usr/local/bin/blogflow /usr/local/bin/blogflow
USER blogflow
WORKDIR /var/lib/blogflow
# Made here so that volumes mounted on them start owned by blogflow.
RUN mkdir -p data content logs
ENV BLOGFLOW_LISTEN=0.0.0.0:3000 \
    BLOGFLOW_DATA_DIR=/var/lib/blogflow/data \
    BLOGFLOW_CONTENT_DIR=/var/lib/blogflow/content \
    BLOGFLOW_LOG_DIR=/var/lib/blogflow/logs
VOLUME ["/var/lib/blogflow"]
EXPOSE 3000
# Readiness: the store and the queue answer (503 while Redis is down).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["blogflow", "status", "--url", "http://127.0.0.1:3000"]
# SIGTERM lets running jobs finish (queue.shutdown_grace_secs) or go back to the queue.
STOPSIGNAL SIGTERM
ENTRYPOINT ["blogflow"]
CMD ["run"]
