# syntax=docker/dockerfile:1
# ironlog serve: durable HTTP audit-log ingest. Multi-stage: build with dev dependencies, ship only
# the compiled code and the production dependencies, run as a non-root user, WAL on a volume.
#   docker build -t ironlog .
#   docker run -v ironlog-wal:/var/lib/ironlog -p 8080:8080 \
#     -v "$PWD/tokens.json:/run/secrets/ironlog-tokens.json:ro" ironlog
# See docs/deployment/containers.md. No container engine runs where this file was written: it is
# checked by test/deploy.test.ts (every command and option exists, ports and paths agree), not built.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# `npm ci` runs the `prepare` script, which compiles src/ to dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 ironlog \
 && useradd --system --uid 10001 --gid ironlog --home-dir /var/lib/ironlog --shell /usr/sbin/nologin ironlog \
 && mkdir -p /var/lib/ironlog \
 && chown ironlog:ironlog /var/lib/ironlog
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER 10001:10001
# The WAL: put it on a volume (a real disk: fdatasync must reach stable storage).
VOLUME ["/var/lib/ironlog"]
EXPOSE 8080
# /health/live answers 200 while the process serves; node:24-slim has no curl, so node asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health/live').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: stop accepting, answer what is in flight, close the WAL, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/ironlog.js"]
CMD ["serve", "--dir", "/var/lib/ironlog/wal", "--host", "0.0.0.0", "--port", "8080", "--tokens-file", "/run/secrets/ironlog-tokens.json", "--open-routes", "health,metrics"]
