# syntax=docker/dockerfile:1
#
# The gateway and the bundled example providers in one small image.
#
#   docker build -t gateway .
#   docker run --rm -p 8080:8080 -e GATEWAY_ADMIN_TOKEN=change-me gateway
#   curl http://127.0.0.1:8080/_gateway/providers
#
# Your own providers: mount a folder over /providers (it must be writable by uid 10001, as the
# gateway keeps its registry.yaml there), e.g. -v "$PWD/providers:/providers".

# --- build: compile main.ts into one self-contained executable (Bun embedded) -----------------
FROM node:20-bookworm AS build
WORKDIR /src
# Dependencies first, so editing the sources does not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json main.ts ./
COPY lib ./lib
COPY routes ./routes
COPY scripts/build.ts ./scripts/build.ts
# The profiles the bytecode is laid out by (less memory; the build works without them too).
COPY scripts/bytecode-order ./scripts/bytecode-order
RUN npm run build && ./gateway --version

# --- runtime -----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# python3: the examples "files" (python3 -m http.server) and "hello-core" (a python3 script)
#   need it; drop it if your providers do not. Runtime bun needs nothing: it is in the binary.
# tini: PID 1 that reaps orphaned grandchildren of providers and passes signals on, so
#   `docker stop` (SIGTERM) reaches the gateway, which stops every provider's process group.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 tini \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --create-home --uid 10001 gateway

COPY --from=build /src/gateway /usr/local/bin/gateway
COPY --chown=gateway:gateway examples/providers /providers

USER gateway
EXPOSE 8080

# `gateway healthcheck` asks http://127.0.0.1:$GATEWAY_PORT/healthz (8080 by default).
HEALTHCHECK --interval=10s --timeout=6s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/gateway", "healthcheck"]

# Bound to 0.0.0.0, the gateway refuses the mutating admin routes (POST /_gateway/...: start,
# stop, restart) with 403 unless an admin token is set: run with -e GATEWAY_ADMIN_TOKEN=<secret>
# and send "Authorization: Bearer <secret>". Read-only routes and the proxy need no token.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/gateway", "--host", "0.0.0.0", "--providers-dir", "/providers"]
