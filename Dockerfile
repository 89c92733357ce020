# AtlanticProxy: a two-stage image. The builder compiles the site (wasm) and the server with
# the same xtask the README uses; the runtime image holds the binary, its site and nothing else.
# (No Docker engine runs on the development machines; this file is checked by review, not CI.)

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo xtask build --release

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/atlantic --create-home atlantic
COPY --from=builder /src/target/release/atlantic /usr/local/bin/atlantic
COPY --from=builder /src/target/release/site /usr/local/share/atlantic/site
ENV ATLANTIC_ENV=production \
    ATLANTIC_SITE_ROOT=/usr/local/share/atlantic/site \
    ATLANTIC_LISTEN=0.0.0.0:3000 \
    ATLANTIC_HTTP_PROXY=0.0.0.0:8080 \
    ATLANTIC_SOCKS_PROXY=0.0.0.0:1080
USER atlantic
WORKDIR /var/lib/atlantic
EXPOSE 3000 8080 1080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /live HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/atlantic"]
CMD ["serve"]
