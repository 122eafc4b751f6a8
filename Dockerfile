# Gaia platform image: all six services in one image; `gaia serve NAME` starts one of them, and
# `gaia db migrate` applies the database migrations (the operator's migration Job runs it).
#
#   make images                       # or: docker build -t localhost/gaia/gaia:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp --tmpfs /var/lib/gaia -p 8666:8666 localhost/gaia/gaia:0.1.0 gaia serve gateway
#
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (images/build.sh does it when npm or
# NODE_EXTRA_CA_CERTS names one): --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt
#
# It runs as uid/gid 10001 (not root) and works with a read-only root filesystem: give it writable volumes at
# /var/lib/gaia (GAIA_DATA_DIR, also HOME) and /tmp. The sources run through tsx; there is no compile step.
#
# Besides Node it carries Debian's git, ripgrep, openssh-client and ca-certificates: the kb service keeps its
# documents in a Git working copy (https:// and ssh:// remotes) and searches them with rg. images/base.sh makes a
# Node base that has them already; on a base without them (the official node:24-slim) the runtime stage installs
# them from Debian's mirror.

ARG NODE_IMAGE=docker.io/library/node:24-slim

# --- the package manifests alone, so the dependency layers below are reused until a manifest changes -----
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /manifests/ \; \
 && cp package-lock.json /manifests/

# --- production dependencies of the services ------------------------------------------------------------
# No install scripts: the root's postinstall needs the prisma CLI, a dev tool. --omit=optional drops what npm
# marks "devOptional": the prisma CLI, Studio and TypeScript arrive as optional peers of @prisma/client and
# would add about 150 MB; the only real optional packages of the production tree are TypeScript's native
# binaries and pg-cloudflare (for Cloudflare Workers). Check again when a dependency with a native optional
# package (esbuild, sharp, ...) joins the services.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=ca-certificates \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --workspace services --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error
# tsx runs the TypeScript sources. It is a dependency of the root package, which an install limited to the
# services workspaces leaves out: install the locked version on its own and link it where `import "tsx"` looks.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=ca-certificates \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && mkdir -p /opt/tsx \
 && if [ ! -e node_modules/tsx ]; then \
      version="$(node -p 'require("./package-lock.json").packages["node_modules/tsx"].version')" \
   && npm install --prefix /opt/tsx --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "tsx@${version}" \
   && ln -s /opt/tsx/node_modules/tsx node_modules/tsx; \
    fi

# --- build: every dependency, to generate the Prisma client -----------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=ca-certificates \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -f node_modules/.bin/node
# (The `node` devDependency downloads its binary in an install script, skipped here; the image's node runs.)
COPY prisma.config.ts ./
COPY prisma ./prisma
RUN npm run generate

# --- runtime ------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="gaia" \
      org.opencontainers.image.description="Gaia platform: gateway, auth, asset, chat, kb and web (gaia serve NAME)" \
      org.opencontainers.image.licenses="Apache-2.0"
# What the services run besides node (images/lib.sh's NODE_BASE_PACKAGES): installed only when the base lacks a
# package, with no package lists or archives left behind; the build fails if a command is still missing.
ARG RUNTIME_PACKAGES="ca-certificates git openssh-client ripgrep"
RUN missing=""; \
    for package in ${RUNTIME_PACKAGES}; do \
      dpkg-query -W -f '${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed' || missing="${missing} ${package}"; \
    done; \
    if [ -n "${missing}" ]; then \
      echo "installing${missing} (not in the base image)" \
   && apt-get update \
   && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing} \
   && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb || exit 1; \
    fi \
 && git --version && rg --version | head -n 1 && ssh -V && test -s /etc/ssl/certs/ca-certificates.crt
# A user of our own (not the base image's), numeric so that Kubernetes can verify runAsNonRoot. No package
# manager at run time: npm, npx, yarn and corepack go. `gaia` on PATH is the CLI (bin/gaia.js, copied below).
RUN groupadd --gid 10001 gaia \
 && useradd --uid 10001 --gid gaia --home-dir /var/lib/gaia --no-create-home --shell /usr/sbin/nologin gaia \
 && install -d -o gaia -g gaia -m 0750 /var/lib/gaia \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/yarn \
           /usr/local/bin/yarnpkg /usr/local/bin/corepack /opt/yarn-* \
 && ln -s /app/bin/gaia.js /usr/local/bin/gaia
# tsx keeps its compile cache under /tmp (os.tmpdir()); on a read-only /tmp it compiles without one.
# A container's loopback is its own: services listen on its interfaces (GAIA_BIND), so that -p and Services reach them.
# HOME is the data volume too (git and ssh look there, e.g. for known_hosts), whatever uid a cluster runs it as.
ENV NODE_ENV=production \
    GAIA_DATA_DIR=/var/lib/gaia \
    HOME=/var/lib/gaia \
    GAIA_BIND=0.0.0.0
EXPOSE 8666 8001 8002 8003 8004 8080
WORKDIR /app
COPY --from=prod-deps /opt/tsx /opt/tsx
COPY --from=prod-deps /app ./
COPY --from=build /app/services/kit/src/db/generated ./services/kit/src/db/generated
COPY tsconfig.json ./
COPY prisma ./prisma
COPY bin ./bin
COPY cli ./cli
COPY services ./services
USER 10001:10001
CMD ["gaia", "help"]
