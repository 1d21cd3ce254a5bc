# syntax=docker/dockerfile:1
# jwt-rotation-operator: build with the dev toolchain, ship dist/ and production dependencies only.
#   docker build -t jwt-rotation-operator:0.1.0 .
#
# Node 24 (the Active LTS line; Node 20 reached its end of life on 2026-04-30). Pin the bases by digest
# where you build with a registry (`docker buildx imagetools inspect node:24-slim`); this repository's
# machine has no registry to read a digest from. A build without a registry substitutes its own
# (tools/images/build.sh makes them from Debian forky's packages, nodejs 24):
#   --build-arg BUILD_IMAGE=localhost/node-build:24-forky --build-arg RUNTIME_IMAGE=localhost/node-runtime:24-forky
ARG BUILD_IMAGE=node:24-slim
ARG RUNTIME_IMAGE=node:24-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# The runtime base minus what the operator never runs: npm, npx, corepack and yarn, the package
# manager's programs and the shells. Deleted with node itself (exec form), since the shell goes too.
# dpkg's database stays, so image scanners can still list the packages.
FROM ${RUNTIME_IMAGE} AS runtime-base
RUN ["node", "-e", "const fs = require('fs'); const rm = (p) => fs.rmSync(p, { recursive: true, force: true }); ['/usr/local/lib/node_modules', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn', '/usr/local/bin/yarnpkg', '/usr/lib/node_modules', '/usr/share/nodejs/npm', '/usr/share/nodejs/corepack', '/etc/apt', '/var/lib/apt', '/var/cache/apt', '/usr/lib/apt'].forEach(rm); for (const d of ['/opt']) for (const e of fs.existsSync(d) ? fs.readdirSync(d) : []) if (e.startsWith('yarn')) rm(d + '/' + e); for (const d of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) for (const e of fs.existsSync(d) ? fs.readdirSync(d) : []) if (/^(apt|dpkg|npm$|npx$|corepack$|yarn|sh$|bash$|dash$|rbash$|su$)/.test(e)) rm(d + '/' + e);"]

# One flattened layer, so what was deleted above is gone rather than hidden in a lower layer.
FROM scratch
COPY --from=runtime-base / /
# MALLOC_ARENA_MAX: glibc keeps a malloc arena per thread that allocated, and returns little of it;
# two arenas keep the resident size of a busy operator down (bench/README.md, "Scale bench").
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./package.json
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
# Files stay owned by root and read-only to the process; it runs as an unprivileged uid with a
# read-only root filesystem in the cluster (see deploy/operator.yaml).
USER 65532:65532
EXPOSE 8080
CMD ["node", "dist/main.js"]
