/**
 * ficus's extracted services and the runtime they share. The CLI and the demo import them from
 * here; each service's own index.ts is the way in for code that embeds one.
 */
import { ConfigError } from '../common/index.js';
import { CATALOG_DEFINITION } from './catalog/index.js';
import { NOTIFICATIONS_DEFINITION } from './notifications/index.js';
import { REVIEWS_DEFINITION } from './reviews/index.js';
import type { ServiceDefinition } from './runtime/index.js';

export * from './runtime/index.js';
export { CATALOG_DEFINITION, startCatalogService } from './catalog/index.js';
export { NOTIFICATIONS_DEFINITION } from './notifications/index.js';
export { REVIEWS_DEFINITION } from './reviews/index.js';

/** Every service `ficus service <name>` can run, in port order. */
export const SERVICE_DEFINITIONS: readonly ServiceDefinition[] = Object.freeze([
  CATALOG_DEFINITION,
  REVIEWS_DEFINITION,
  NOTIFICATIONS_DEFINITION,
]);

/** The definition named `name`; a ConfigError naming the known services otherwise. */
export function serviceDefinition(name: string): ServiceDefinition {
  const found = SERVICE_DEFINITIONS.find((definition) => definition.name === name);
  if (!found)
    throw new ConfigError(
      `unknown service ${JSON.stringify(name)}; ficus's own services are ${SERVICE_DEFINITIONS.map((d) => d.name).join(', ')}. ` +
        "Run a service of your own with --module ./your-service.ts (its default export is defineService({ ... }) from 'ficus'; see docs/extract-your-first-table.md)",
    );
  return found;
}
