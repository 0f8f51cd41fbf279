# One image for the api, worker and migrate services: `node dist/src/main.js <command>`.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
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
