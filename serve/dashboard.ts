import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

interface Asset { body: Buffer; type: string }

function load(path: string): Asset {
  const ext = path.slice(path.lastIndexOf('.'));
  return { body: readFileSync(path), type: TYPES[ext] ?? 'application/octet-stream' };
}

/**
 * The dashboard: static files of serve/dashboard/ (the page and its ES modules) and the chart library
 * (uPlot, from its package), read once at start and served from memory under fixed names only, so no
 * request path ever reaches the file system.
 */
export function dashboardRoutes(app: FastifyInstance): void {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');
  const files = new Map<string, Asset>();
  for (const name of readdirSync(dir)) if (/^[a-z0-9-]+\.(js|css|html)$/.test(name)) files.set(name, load(join(dir, name)));
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  files.set('uPlot.iife.min.js', load(join(uplot, 'dist', 'uPlot.iife.min.js')));
  files.set('uPlot.min.css', load(join(uplot, 'dist', 'uPlot.min.css')));
  const index = files.get('index.html');
  if (!index) throw new Error(`the dashboard's index.html is missing from ${dir}`);
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type(index.type).header('cache-control', 'no-cache').send(index.body));
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
  app.get<{ Params: { file: string } }>('/app/:file', { schema: { hide: true } }, async (req, reply) => {
    const f = files.get(req.params.file);
    if (!f || req.params.file === 'index.html') return reply.code(404).send({ error: 'no such file' });
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });
}
