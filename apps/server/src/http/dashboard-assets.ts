import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array | undefined;
  type: string;
  /** Vite's content-hashed files under /assets/ never change: cached for a year. */
  immutable: boolean;
}

/** The built dashboard, read into memory at start (a few hundred KB): nothing is resolved on disk per request. */
export interface DashboardAssets {
  dir: string;
  files: Map<string, Asset>;
  index: Asset;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where `npm run build` puts the dashboard, seen from this file in src/ or dist/. */
export function defaultDashboardDir(): string {
  return fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));
}

/** Reads the built dashboard; undefined when it has not been built (no index.html there). */
export function loadDashboardAssets(dir: string): DashboardAssets | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, Asset>();
  const walk = (current: string, depth: number) => {
    if (depth > 4) return;
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path, depth + 1);
      else if (stat.isFile() && stat.size < 16 * 1024 * 1024) {
        const urlPath = `/${relative(dir, path).split(sep).join('/')}`;
        const body = readFileSync(path);
        const type = types[extname(name)] ?? 'application/octet-stream';
        const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
        files.set(urlPath, {
          body,
          gzip: compressible ? gzipSync(body, { level: 9 }) : undefined,
          type,
          immutable: urlPath.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir, 0);
  const index = files.get('/index.html');
  if (!index) return undefined;
  files.delete('/index.html');
  return { dir, files, index };
}

/**
 * The dashboard's pages may load only this server's own scripts and styles and talk only to it; nothing frames
 * them. Inline styles are allowed (the terminal and the graph editor set them); inline scripts are not.
 */
export const dashboardCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

/** The page `/` shows when the dashboard was not built (a checkout without `./dev setup`). */
export const notBuiltHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RunTools</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">
<h1>RunTools</h1><p>The API is running, but the dashboard has not been built on this machine.
Run <code>./dev setup</code> (or <code>npm run build</code>) in the RunTools checkout and restart the server.</p>
<p>The API reference is at <a href="/docs">/docs</a>.</p></body></html>`;

export type { Asset as DashboardAsset };
