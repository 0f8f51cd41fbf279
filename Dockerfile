# One image for the api, worker and migrate services: `node dist/src/main.js <command>`.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The Meta sandbox is a local package and a development dependency: npm ci links it, the build
# compiles it, and npm prune --omit=dev unlinks it, so the final stage has no copy.
COPY package.json package-lock.json ./
COPY packages/meta-sandbox/package.json ./packages/meta-sandbox/
RUN npm ci
COPY tsconfig.json ./
COPY packages ./packages
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Where the media volume mounts: a new volume takes this folder's owner.
RUN mkdir /media && chown node:node /media
USER node
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["api"]
