// The platform under test: a real RunTools server on a fresh data dir (SQLite by default, or a database URL
// given as argv[2]), with logs off. Prints `{ url, adminKey }` when it listens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServerConfig, startServer } from '@runtools/server';

const dataDir = mkdtempSync(join(tmpdir(), 'runtools-bench-'));
const repoDir = new URL('../..', import.meta.url).pathname;
const databaseUrl = process.argv[2];
const server = await startServer(
  resolveServerConfig(
    { dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent', ...(databaseUrl ? { databaseUrl } : {}) },
    // The per-key limit stays on (its cost is part of a request) but high enough never to trigger.
    // Sandboxes use the test rootfs cache (built once per checkout) and the smallest template.
    {
      RUNTOOLS_RATE_LIMIT_PER_MINUTE: '10000000',
      RUNTOOLS_ROOTFS_DIR: join(repoDir, '.runtools-test', 'rootfs'),
      RUNTOOLS_DEFAULT_TEMPLATE: 'minimal',
      RUNTOOLS_SSH_PORT: '0',
      // Settings a benchmark hands its server through this process's environment.
      ...Object.fromEntries(
        [
          'RUNTOOLS_TOOL_RUNTIME',
          'RUNTOOLS_OPENAI_BASE_URL',
          'RUNTOOLS_MESH_LINK_RATE_PER_MINUTE',
          'RUNTOOLS_MESH_POLL_SECONDS',
          'RUNTOOLS_MESH_HEARTBEAT_SECONDS',
        ].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
      ),
    },
  ),
);
process.stdout.write(`${JSON.stringify({ url: server.url, adminKey: server.adminKey, dataDir })}\n`);
process.once('SIGTERM', async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
