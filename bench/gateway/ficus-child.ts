/**
 * The ficus rows' server: the ficus gateway from gateway/index.ts, in a process of its own,
 * over an in-memory route store holding the table the parent sends (see FicusChildConfig).
 *
 * gateway/index.ts is imported dynamically: if it cannot be loaded yet, this child reports
 * itself unavailable and the benchmark prints the other rows. `startGateway` is the one call
 * site that knows the gateway's API.
 *
 * Started by ./server-process.ts with a FicusChildConfig as argv[2].
 */
import type * as GatewayModule from '../../gateway/index.js';
import type { RouteTableInput } from '../../gateway/index.js';
import { describeError } from '../cdc/cleanup.js';
import { readServerConfig, reportToParent } from './server-process.js';

/** What the parent passes as argv[2], as JSON. */
export interface FicusChildConfig {
  /** 0 for any free port; the bound port is reported back. */
  readonly port: number;
  /** The route table, as routes.yaml holds it. */
  readonly routes: RouteTableInput;
}

/** Starts the gateway on 127.0.0.1 and resolves with its port. */
async function startGateway(gateway: typeof GatewayModule, config: FicusChildConfig) {
  const store = gateway.createMemoryRouteStore(config.routes);
  const server = gateway.createGateway({ store, adminToken: 'bench' });
  const { port } = await server.listen(config.port, '127.0.0.1');
  return port;
}

async function main(): Promise<void> {
  const config = readServerConfig<FicusChildConfig>();
  let gateway: typeof GatewayModule;
  try {
    gateway = await import('../../gateway/index.js');
  } catch (error) {
    reportToParent({ kind: 'unavailable', reason: describeError(error) });
    return;
  }
  reportToParent({ kind: 'ready', port: await startGateway(gateway, config) });
}

await main();
