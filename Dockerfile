# mysql-tls-proxy: multi-stage build, runs as the unprivileged `node` user.
# Node 24 is an LTS line; override with --build-arg NODE_VERSION=<another LTS>.
ARG NODE_VERSION=24

# ---- build: compile TypeScript with the dev dependencies, then drop them --------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled JS and production dependencies only ----------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim
# The client listener binds every interface inside the container: the published port decides who
# reaches it. The status port (metrics, readiness, /ca.pem) stays on the container's loopback, as
# outside one: exposing it is a decision (MTP_STATUS=0.0.0.0:9400, as docker-compose.yml does so
# its Prometheus can scrape, publishing it on the host's 127.0.0.1 only). SECURITY.md.
ENV NODE_ENV=production \
    MTP_LISTEN=0.0.0.0:4000 \
    MTP_STATUS=127.0.0.1:9400
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Development certificates are generated into /app/certs on first start: make it writable for
# `node` (a named volume mounted there inherits this ownership, so certificates survive restarts).
RUN mkdir -p /app/certs && chown node:node /app/certs
USER node
EXPOSE 4000
VOLUME ["/app/certs"]
ENTRYPOINT ["node", "/app/dist/cli/index.js"]
CMD ["serve"]
