# AtlanticProxy: a two-stage image. The builder compiles the site (wasm) and the server with
# the same xtask the README uses; the runtime image holds the binary, its site and nothing else.
# (No Docker engine runs on the development machines: CI does not build this image, but
# server/tests/compose.rs checks its health check against compose.yaml.)

# Node for the site build (ECharts bundled by esbuild, wasm-opt), taken from the official image:
# Debian bookworm's Node 18 is past its end of life. The build installs only the site's npm
# packages (`npm ci --omit=dev` in end2end/): no Playwright.
FROM node:22-bookworm-slim AS node

FROM rust:1.95-bookworm AS builder
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
WORKDIR /src
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo xtask build --release

FROM debian:bookworm-slim
# postgresql-client-15: pg_dump and pg_restore for `atlantic backup` on PostgreSQL (15, as the
# compose file's server)
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/atlantic --create-home atlantic \
 && install -d -o atlantic -g atlantic -m 700 /var/lib/atlantic/backups /var/lib/atlantic/spool
COPY --from=builder /src/target/release/atlantic /usr/local/bin/atlantic
COPY --from=builder /src/target/release/site /usr/local/share/atlantic/site
ENV ATLANTIC_ENV=production \
    ATLANTIC_SITE_ROOT=/usr/local/share/atlantic/site \
    ATLANTIC_LISTEN=0.0.0.0:3000 \
    ATLANTIC_HTTP_PROXY=0.0.0.0:8080 \
    ATLANTIC_SOCKS_PROXY=0.0.0.0:1080 \
    ATLANTIC_USAGE_SPOOL_DIR=/var/lib/atlantic/spool
USER atlantic
WORKDIR /var/lib/atlantic
EXPOSE 3000 8080 1080
# GET /live on ATLANTIC_LISTEN's port over loopback, 3 s at most; the image has no shell tools
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/atlantic", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/atlantic"]
CMD ["serve"]
