# Roster container image: a release build, then a slim runtime with only the binary.
FROM rust:1.95-bookworm AS build
# npm fetches GraphiQL's pinned assets (assets/graphiql/package-lock.json) during the build.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/roster /usr/local/bin/roster

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 roster
COPY --from=build /usr/local/bin/roster /usr/local/bin/roster
USER roster
ENV ROSTER_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["roster"]
CMD ["serve"]
