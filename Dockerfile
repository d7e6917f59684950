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
# Inside a container the listeners must bind every interface; which host addresses reach them is
# decided by the published ports (docker-compose.yml publishes on 127.0.0.1 only).
ENV NODE_ENV=production \
    MTP_LISTEN=0.0.0.0:4000 \
    MTP_STATUS=0.0.0.0:9400
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Development certificates are generated into /app/certs on first start: make it writable for
# `node` (a named volume mounted there inherits this ownership, so certificates survive restarts).
RUN mkdir -p /app/certs && chown node:node /app/certs
USER node
EXPOSE 4000 9400
VOLUME ["/app/certs"]
ENTRYPOINT ["node", "/app/dist/cli/index.js"]
CMD ["serve"]
