# syntax=docker/dockerfile:1
# One binary in a small image, built with the same script as on a laptop, run as a non-root user.
#   docker build -t portcullis .
#   docker run -p 3000:3000 -v portcullis-data:/data --env-file production.env portcullis
# production.env needs at least BASE_URL (https), SECRET_KEY, DATA_ENCRYPTION_KEYS, MAIL_TRANSPORT=smtp, SMTP_URL and,
# behind a proxy, TRUSTED_PROXIES; `docker run … portcullis doctor` checks it (README, "Deploy").

# Build: the browser bundle (WASM, compressed once) and the release server that embeds it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target/cache \
    CARGO_TARGET_DIR=/src/target/cache scripts/build.sh --release \
 && cp target/cache/release/portcullis /portcullis \
 && mkdir -p /data

# Run: glibc, libgcc and CA certificates, no shell, no package manager; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /portcullis /usr/local/bin/portcullis
# The SQLite file lives on a volume the non-root user owns (or set DATABASE_URL to PostgreSQL).
COPY --from=build --chown=65532:65532 /data /data
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:///data/portcullis.db \
    LOG_FORMAT=json
VOLUME /data
EXPOSE 3000
USER nonroot
# No curl in the image: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["/usr/local/bin/portcullis", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]
