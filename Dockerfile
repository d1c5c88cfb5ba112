# syntax=docker/dockerfile:1
# One image for every Millrace service. The service is chosen by the first
# argument (the chart's `args`, compose's `command`):
#   docker run millrace gateway|status|trainer|predictor|scheduler|topology
# Services run from TypeScript source with `node --import tsx` (no build step),
# exactly as scripts/stack.ts runs them.
#
# Build:  docker build -t millrace .
#         docker build --build-arg TFJS_NATIVE=false -t millrace .   (skip the native attempt)
#
# Numeric backends: @tensorflow/tfjs-node is an optional dependency whose
# install downloads libtensorflow (and a prebuilt binding). pnpm-workspace.yaml
# keeps pnpm from running that script; the deps stage below runs it once with
# TFJS_NATIVE=auto. Built where the download is reachable, the image gets the
# native `tensorflow` backend; where it is not, the build still succeeds and
# the services fall back to tfjs-backend-wasm, then cpu (ML_BACKENDS,
# packages/ml/src/backend.ts). The log line "numeric backend selected" at
# start-up says which one a container uses. TFJS_NATIVE=true makes a failed
# download fail the build.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
COPY package.json ./
# pnpm, the exact version package.json pins (packageManager: pnpm@10.x), with npm.
RUN npm install -g "$(node -p 'require("./package.json").packageManager.split("+")[0]')" \
 && pnpm --version

# ---------------------------------------------------------------------------
FROM base AS deps
# python3, make and g++ are node-gyp's fallback when a native module (tfjs-node)
# has no prebuilt binary. They stay in this stage only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first, from the lockfile alone, so a source change reuses this layer.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=millrace-pnpm-store,target=/pnpm/store \
    pnpm fetch --store-dir /pnpm/store
COPY . .
# devDependencies are installed on purpose: tsx (root devDependency) runs the services.
RUN --mount=type=cache,id=millrace-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --offline --store-dir /pnpm/store

ARG TFJS_NATIVE=auto
RUN set -eu; \
    if [ "$TFJS_NATIVE" = "false" ]; then echo "tfjs-node: skipped (TFJS_NATIVE=false); the services use wasm/cpu"; exit 0; fi; \
    dir="$(ls -d node_modules/.pnpm/@tensorflow+tfjs-node@*/node_modules/@tensorflow/tfjs-node 2>/dev/null | head -n1 || true)"; \
    if [ -z "$dir" ]; then echo "tfjs-node: not installed; the services use wasm/cpu"; exit 0; fi; \
    if (cd "$dir" && PATH="$PWD/node_modules/.bin:$PATH" node scripts/install.js); then \
      echo "tfjs-node: native backend installed"; \
    elif [ "$TFJS_NATIVE" = "true" ]; then \
      echo "tfjs-node: libtensorflow download or binding build failed (TFJS_NATIVE=true)" >&2; exit 1; \
    else \
      echo "tfjs-node: libtensorflow not reachable from this build; the image falls back to wasm, then cpu"; \
    fi

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Code and node_modules stay owned by root: the service user can read, not change them.
COPY --from=deps /app /app
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/millrace-entrypoint
COPY --chmod=0755 deploy/docker/probe.sh /usr/local/bin/millrace-probe
# The node image's unprivileged `node` user, numeric so Kubernetes can check runAsNonRoot.
# tsx keeps its compile cache in /tmp (an emptyDir when the root filesystem is read-only).
USER 1000:1000
# gateway HTTP; status, predictor, scheduler gRPC; health ports (status, predictor, scheduler, trainer).
EXPOSE 8080 50051 50052 50053 8081 8082 8083 8084
ENTRYPOINT ["millrace-entrypoint"]
CMD ["gateway"]
