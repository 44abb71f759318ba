#!/usr/bin/env node
// The installed `ficus` command runs the compiled build. From a source checkout, use
// `npm run ficus -- <command>` (TypeScript through tsx) or build first with `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(
    'ficus: the build output (dist/) is missing. Run `npm run build` first, ' +
      'or run from source with `npm run ficus -- <command>`.',
  );
  process.exit(1);
}
await import(entry.href);
