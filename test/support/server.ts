import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableDrivers } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { type RunningServer, resolveServerConfig, startServer } from '@runtools/server';
import { afterAll, test as base, beforeAll } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from './database.js';
import { removeDriverState } from './driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir } from './rootfs.js';

export interface TestServer {
  url: string;
  /** The owner key of the default org, created on first start. */
  adminKey: string;
  dataDir: string;
  databaseUrl: string | undefined;
  running: RunningServer;
  /** Stops the server and starts it again on the same data dir and database (optionally with new env). */
  restart(env?: Record<string, string | undefined>): Promise<void>;
  /** GET/POST/… with the admin key unless `key` is given (`null` sends none). */
  request(
    method: string,
    path: string,
    options?: { key?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts a real server over loopback on a fresh data dir and a fresh database of the kind this test project
 * runs on (SQLite file, or a new PostgreSQL database).
 */
export async function startTestServer(
  env: Record<string, string | undefined> = {},
  options: { clock?: { now(): number } } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-test-'));
  const postgres = testDatabaseKind() === 'postgres' ? await createPostgresDatabase() : undefined;
  const configFor = (extra: Record<string, string | undefined>) =>
    resolveServerConfig(
      { dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent', ...(postgres ? { databaseUrl: postgres.url } : {}) },
      // Sandboxes share the test rootfs cache instead of building their own (see rootfs.ts).
      // Tests that do not test templates use the smallest one.
      // Any free port for the SSH gateway: test servers run side by side.
      {
        RUNTOOLS_ROOTFS_DIR: join(testRuntimeDir, 'rootfs'),
        RUNTOOLS_DEFAULT_TEMPLATE: 'minimal',
        RUNTOOLS_SSH_PORT: '0',
        // Every sandbox gets a disk (a sparse ext4 image): small, since many run side by side here.
        RUNTOOLS_SANDBOX_DISK: '2GiB',
        ...extra,
      },
    );
  let currentEnv = env;
  let running: RunningServer;
  try {
    running = await startServer(configFor(currentEnv), options);
  } catch (error) {
    await postgres?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const adminKey = running.adminKey;
  if (!adminKey) throw new Error('a fresh test server did not create an admin key');
  const server: TestServer = {
    get url() {
      return running.url;
    },
    adminKey,
    dataDir,
    databaseUrl: postgres?.url,
    get running() {
      return running;
    },
    async restart(nextEnv) {
      await running.close();
      currentEnv = nextEnv ?? currentEnv;
      running = await startServer(configFor(currentEnv), options);
    },
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.key === undefined ? adminKey : options.key;
      if (key !== null) headers['x-api-key'] = key;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      return fetch(`${running.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    },
    async close() {
      try {
        await running.close();
      } finally {
        try {
          await destroyLeftoverSandboxes(dataDir);
        } finally {
          await postgres?.drop();
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface SandboxServer {
  server: TestServer;
  /** An SDK client with the admin key (a new one after `restart`, which may change the port). */
  rt: RunTools;
  /** Destroys the sandbox when the block's tests are done (whatever they left it in). */
  track<T extends { destroy(): Promise<unknown> }>(sandbox: T): T;
  /** Restarts the server on its data dir and database, and makes a new client. */
  restart(env?: Record<string, string | undefined>): Promise<void>;
}

/**
 * A real server for the tests of one describe block, on the shared test rootfs (built once), with an SDK
 * client; sandboxes handed to `track` are destroyed and the server closed after the last test. Call it at the
 * top of the describe and read `server` and `rt` inside tests (they exist once its beforeAll has run).
 */
export function useSandboxServer(
  env: Record<string, string | undefined> | (() => Promise<Record<string, string | undefined>>) = {},
): SandboxServer {
  const made: { destroy(): Promise<unknown> }[] = [];
  const context = {
    track<T extends { destroy(): Promise<unknown> }>(sandbox: T): T {
      made.push(sandbox);
      return sandbox;
    },
    async restart(nextEnv?: Record<string, string | undefined>) {
      await context.server.restart(nextEnv);
      context.rt = new RunTools({ apiKey: context.server.adminKey, baseUrl: context.server.url });
    },
  } as SandboxServer;
  beforeAll(async () => {
    await testBaseRootfs();
    context.server = await startTestServer(typeof env === 'function' ? await env() : env);
    context.rt = new RunTools({ apiKey: context.server.adminKey, baseUrl: context.server.url });
  }, 15 * 60_000);
  afterAll(async () => {
    for (const sandbox of made) await sandbox.destroy().catch(() => {});
    await context.server?.close();
  }, 120_000);
  return context;
}

/** `test` with a `server` fixture: a real server per test, torn down after it. */
export const serverTest = base.extend<{ server: TestServer }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies as the first argument
  server: async ({}, use) => {
    const server = await startTestServer();
    await use(server);
    await server.close();
  },
});

/**
 * Sandboxes a test left running (or a server that was killed) would keep their overlay mounted inside the data
 * dir, and run on once it is removed: destroy them through the drivers before the data dir goes. Throws, keeping
 * the data dir, when one outlives its destroy.
 */
export async function destroyLeftoverSandboxes(dataDir: string): Promise<void> {
  const stateDir = join(dataDir, 'sandboxes');
  await removeDriverState(stateDir, availableDrivers(stateDir).drivers);
}
