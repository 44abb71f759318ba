# The ficus image: one image, every component; the command picks which (ficus legacy, ...).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# Where `ficus cdc` keeps its offsets file; mount a volume here.
RUN mkdir -p /var/lib/ficus/cdc && chown -R node:node /var/lib/ficus
USER node
ENTRYPOINT ["node", "bin/ficus.js"]
CMD ["--help"]
