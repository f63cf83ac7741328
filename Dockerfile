# Tally's container image: `docker build -t tally .`
#
# Stages: chef (toolchain + cargo-chef) -> planner (dependency recipe) -> builder (dependencies in
# their own cached layer, then the workspace) -> runtime (distroless, non-root, one binary).
# The migrations are embedded in the binary at compile time (refinery), so the runtime image holds
# no SQL files: `tally migrate` and `tally serve` carry them.
#
# The runtime is glibc-based Debian 12 (distroless cc), matching the bookworm build stage.

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78
ARG BUSYBOX_IMAGE=busybox:1.36.1-musl
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# A static busybox, only for the HEALTHCHECK's `wget` (distroless has no shell nor HTTP client).
FROM ${BUSYBOX_IMAGE} AS busybox

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
    && rm -rf "${CARGO_HOME}/registry"
WORKDIR /app

# The recipe changes only when a manifest or the lockfile changes.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Dependencies only: this layer stays cached until Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin tally
# The workspace itself (migrations/ is read at compile time by refinery's embed_migrations!).
COPY . .
RUN cargo build --release --locked --bin tally \
    && strip target/release/tally \
    && target/release/tally --version

FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tally" \
      org.opencontainers.image.description="A money-transfer engine with an HTTP front" \
      org.opencontainers.image.licenses="MIT"
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
COPY --from=builder /app/target/release/tally /usr/local/bin/tally
ENV TALLY_ENV=production \
    TALLY_HTTP__ADDR=0.0.0.0:8080 \
    TALLY_LOG__FORMAT=json \
    TALLY_LOG__LEVEL=info
# distroless's `nonroot` user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/busybox", "wget", "-q", "-T", "2", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/tally"]
CMD ["serve"]
