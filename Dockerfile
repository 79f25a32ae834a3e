# syntax=docker/dockerfile:1
# The orchestrator container image: a static-enough release build on Debian, run on a slim
# runtime with git (clones, tags, pushes) and CA certificates (HTTPS to GitHub), as a non-root
# user. Used by the README's Kubernetes CronJob example.
#
#   docker build -t orchestrator .
#   docker run --rm -v "$PWD:/work" -w /work -e GITHUB_TOKEN orchestrator status

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the registry and target dir between builds (the binary is copied
# out of the cached target dir, which the next stage cannot see).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile dist -p orchestrator-cli \
    && install -m 0755 target/dist/orchestrator /usr/local/bin/orchestrator

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# Versions float with the Debian point release on purpose: security fixes to git and the CA
# bundle should reach the image on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin orchestrator
COPY --from=build /usr/local/bin/orchestrator /usr/local/bin/orchestrator
USER 10001:10001
WORKDIR /home/orchestrator
# Run state (journal, records) goes where a volume can keep it between CronJob runs.
ENV ORCHESTRATOR_STATE_DIR=/home/orchestrator/state
ENTRYPOINT ["orchestrator"]
CMD ["--help"]
