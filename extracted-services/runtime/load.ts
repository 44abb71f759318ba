import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, FicusError } from '../../common/index.js';
import { loadDeclarativeService, type DeclarativeOptions } from './declarative.js';
import { isServiceDefinition } from './define.js';
import type { ServiceDefinition } from './service.js';

const TYPESCRIPT = /\.(c|m)?tsx?$/;
const YAML = /\.ya?ml$/;

/** Where {@link loadServiceModule} resolves the file, and what a YAML service may read. */
export interface LoadServiceOptions extends DeclarativeOptions {
  /** Default: the working directory. */
  readonly cwd?: string;
}

/**
 * Loads a user's service from a file: a TypeScript (compiled on the fly by tsx) or JavaScript
 * module whose default export (or an export named `service`) is a {@link defineService} result,
 * or a YAML file declaring plain table copies (see declarative.ts). `file` is resolved against
 * `cwd`. A missing file, a module that fails to load or one that exports no service is an error
 * that says what to fix.
 */
export async function loadServiceModule(
  file: string,
  options: LoadServiceOptions = {},
): Promise<ServiceDefinition> {
  const absolute = path.resolve(options.cwd ?? process.cwd(), file);
  try {
    await access(absolute);
  } catch (error) {
    throw new ConfigError(
      `module: ${JSON.stringify(file)} does not exist (looked for ${absolute})`,
      { cause: error },
    );
  }
  if (YAML.test(absolute))
    return loadDeclarativeService(file, await readFile(absolute, 'utf8'), options);
  const url = pathToFileURL(absolute).href;
  let exports: Record<string, unknown>;
  try {
    if (TYPESCRIPT.test(absolute)) {
      const { tsImport } = await import('tsx/esm/api');
      exports = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } else {
      exports = (await import(url)) as Record<string, unknown>;
    }
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    const hint = /Cannot find (package|module) 'ficus'/.test(message)
      ? `; install ficus in the module's project (npm install <path to ficus>) so 'ficus' resolves from ${path.dirname(absolute)}`
      : '';
    throw new FicusError(
      'FICUS_SERVICE_MODULE_LOAD',
      `cannot load the service module ${file}: ${message}${hint}`,
      { cause: error },
    );
  }
  const candidate = definitionIn(exports);
  if (!candidate) {
    const names = Object.keys(exports);
    throw new ConfigError(
      `module: ${file} does not export a service; its default export (or an export named "service") must be defineService({ name, port, tables, ... }) from 'ficus' (it exports ${names.length > 0 ? names.join(', ') : 'nothing'})`,
    );
  }
  return candidate;
}

function definitionIn(exports: Record<string, unknown>): ServiceDefinition | undefined {
  // tsx hands a CommonJS-shaped module's default over as `default.default`.
  const candidates = [
    exports.default,
    exports.service,
    (exports.default as Record<string, unknown> | undefined)?.default,
  ];
  return candidates.find(isServiceDefinition);
}
