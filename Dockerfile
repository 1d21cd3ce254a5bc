# syntax=docker/dockerfile:1
# jwt-rotation-operator: build with the dev toolchain, ship dist/ and production dependencies only.
#   docker build -t jwt-rotation-operator:0.1.0 .

FROM node:20-slim AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=0:0 /app/package.json ./package.json
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
# Files stay owned by root and read-only to the process; it runs as an unprivileged uid with a
# read-only root filesystem in the cluster (see deploy/operator.yaml).
USER 65532:65532
EXPOSE 8080
CMD ["node", "dist/main.js"]
