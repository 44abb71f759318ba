import type { Command } from '../command.js';
import { cdcCommand } from './cdc.js';
import { gatewayCommand } from './gateway.js';
import { routesCommand } from './routes.js';
import { demoCommand } from './demo.js';
import { legacyCommand } from './legacy.js';
import { reconcileCommand } from './reconcile.js';
import { serviceCommand } from './service.js';

/** Every `ficus` subcommand, in the order `ficus --help` lists them. */
export const commands: readonly Command[] = [
  demoCommand,
  legacyCommand,
  cdcCommand,
  serviceCommand,
  reconcileCommand,
  gatewayCommand,
  routesCommand,
];
