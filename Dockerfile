# Roster container image: a stripped release build, then a slim runtime with only the binary.
#
# Base images are pinned to exact versions (bump them deliberately); the runtime runs as a
# non-root user whose working directory, /data, is a writable volume, so the SQLite default
# (`sqlite:/data/roster.db`) works with a plain `docker run`.
FROM node:20.19.5-bookworm-slim AS node

FROM rust:1.95.0-bookworm AS build
# The build runs npm: GraphiQL's pinned assets (assets/graphiql/package-lock.json) and the
# console's build (console/package-lock.json, which needs Node.js 20; Debian 12 ships 18).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version
WORKDIR /src
COPY . .
# No debug info and stripped symbols: ~20 MB instead of ~190 MB. (Builds outside Docker
# keep line tables for backtraces; see Cargo.toml.)
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked --bin roster \
    && install -m 0755 target/release/roster /usr/local/bin/roster

FROM debian:12.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data roster \
    && mkdir -p /data /run/roster \
    && chown roster:roster /data /run/roster
COPY --from=build /usr/local/bin/roster /usr/local/bin/roster
COPY docker/entrypoint.sh /usr/local/bin/roster-entrypoint
USER roster
WORKDIR /data
VOLUME ["/data"]
ENV ROSTER_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:/data/roster.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/roster-entrypoint"]
CMD ["serve"]
