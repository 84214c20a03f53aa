# syntax=docker/dockerfile:1
# The docker-compose demo's OpenID provider: the end-to-end tests' provider
# (npm oidc-provider; its login form accepts any username and password).
FROM node:20-bookworm-slim
WORKDIR /srv/oidc
COPY tests/e2e/package.json tests/e2e/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY tests/e2e/oidc/provider.mjs ./
USER node
EXPOSE 9000
CMD ["node", "provider.mjs", "9000", "8080"]
