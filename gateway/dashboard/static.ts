/**
 * Serves the dashboard page itself: hand-written ES modules and CSS from `public/` beside this
 * file (copied into dist/ by `npm run build`), and the uPlot chart library from the installed
 * package. Nothing comes from a CDN; the page works offline.
 *
 *   GET /_ficus/                 index.html
 *   GET /_ficus/assets/<file>    a file of public/ (only names that exist there; no paths)
 *   GET /_ficus/vendor/uplot.js  uPlot's ES module      GET /_ficus/vendor/uplot.css  its styles
 *
 * The page holds no data: everything it shows comes from the admin API, behind the admin token.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type ErrorRequestHandler, type Response } from 'express';
import {
  createSilentLogger,
  FicusError,
  isFicusError,
  toErrorResponse,
  type Logger,
} from '../../common/index.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The page may load scripts, styles and data from the gateway only, and be framed by nobody.
 * uPlot sizes its elements through the CSSOM, which style-src does not restrict.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Where the page's files are: `public/` beside this module, from source and from dist/. */
export function publicDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
}

/** uPlot's dist/ folder, found the way Node finds the package (works from source and dist/). */
export function uplotDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

/** The express router for the page, to mount at /_ficus. */
export function createDashboardStatic(options: { logger?: Logger } = {}): Router {
  const logger = options.logger ?? createSilentLogger();
  const root = publicDir();
  let names: Set<string>;
  try {
    names = new Set(readdirSync(root));
  } catch (error) {
    logger.error({ err: error, dir: root }, 'dashboard files are missing');
    names = new Set();
  }
  const uplot = uplotDir();
  if (!uplot) logger.error('the uplot package is missing: the dashboard will have no charts');
  const vendor: Record<string, string | undefined> = {
    'uplot.js': uplot && path.join(uplot, 'uPlot.esm.js'),
    'uplot.css': uplot && path.join(uplot, 'uPlot.min.css'),
  };
  const cache = new Map<string, Buffer>();

  async function send(res: Response, file: string): Promise<void> {
    let body = cache.get(file);
    if (!body) {
      body = await readFile(file);
      cache.set(file, body);
    }
    res
      .status(200)
      .set({
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      })
      .send(body);
  }

  const notFound = (what: string) =>
    new FicusError('FICUS_NOT_FOUND', `no dashboard file ${what}`, { statusCode: 404 });

  const router = Router({ caseSensitive: true, strict: true });
  router.get('/', async (req, res) => {
    if (req.originalUrl.split('?')[0] === '/_ficus') {
      res.redirect(301, '/_ficus/');
      return;
    }
    if (!names.has('index.html')) throw notFound('index.html');
    await send(res, path.join(root, 'index.html'));
  });
  router.get('/assets/:file', async (req, res) => {
    const name = req.params.file;
    if (name === 'index.html' || !names.has(name)) throw notFound(name);
    await send(res, path.join(root, name));
  });
  router.get('/vendor/:file', async (req, res) => {
    const file = Object.hasOwn(vendor, req.params.file) ? vendor[req.params.file] : undefined;
    if (!file) throw notFound(req.params.file);
    await send(res, file);
  });
  router.use(((err, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (!isFicusError(err)) logger.error({ err }, 'dashboard file could not be served');
    const { status, body } = toErrorResponse(err);
    res.status(status).json(body);
  }) satisfies ErrorRequestHandler);
  return router;
}
