import { defineConfig } from 'vitest/config';

const conditions = ['@runtools/source', 'module', 'node', 'development|production'];
const postgresUrl = process.env.RUNTOOLS_TEST_DATABASE_URL;

/**
 * Unit tests (`*.test.ts`) run once. Integration tests (`*.int.test.ts`) run once per database: SQLite always,
 * PostgreSQL when RUNTOOLS_TEST_DATABASE_URL is set (scripts/test.mjs sets it when one is reachable);
 * `*.postgres.int.test.ts` on PostgreSQL only.
 */
const shared = {
  resolve: { conditions },
  ssr: { resolve: { conditions } },
};
// Projects do not inherit the root's test options: each gets these. Generous, because real servers,
// databases and sandboxes share two cores; they bound a hang, they are not performance thresholds.
const timeouts = { testTimeout: 60_000, hookTimeout: 60_000 };
/**
 * Integration tests whose subject is not the database (the dashboard in a browser, the CLI as a process, template
 * image builds, the sandbox runtime) run on SQLite only: on PostgreSQL they would repeat the same work through the
 * same queries the server's own tests already run there. Listed, so that it is a choice per file.
 */
const sqliteOnly = [
  // The dashboard, driven in Chromium: a client of the API like any other.
  'test/dashboard/**',
  // The CLI as a process: a client of the API too.
  'packages/cli/src/**/*.int.test.ts',
  // Template images built with debootstrap and apt (minutes of CPU); their records are plain rows.
  'apps/server/src/templates/templates.int.test.ts',
  // The sandbox runtime's own behaviour (checkpoints, processes, pause and resume, files, terminals, disk and
  // network limits, a kill -9 during a checkpoint, the dev-URL proxy, the SSH gateway, S3 mounts, a symlink race
  // on the host, devices on a LAN of namespaces): what they keep in the database is plain rows. Sandbox rows on
  // PostgreSQL are covered by sandboxes.int (lists, filters, a restart), route-auth, isolation, pages and projects;
  // a run resumed after a restart on PostgreSQL by agents.int.
  'apps/server/src/sandboxes/snapshots.int.test.ts',
  'apps/server/src/sandboxes/lifecycle.int.test.ts',
  'apps/server/src/sandboxes/files.int.test.ts',
  'apps/server/src/sandboxes/terminal.int.test.ts',
  'apps/server/src/sandboxes/resources.int.test.ts',
  'apps/server/src/sandboxes/crash.int.test.ts',
  'apps/server/src/sandboxes/dev-urls.int.test.ts',
  'apps/server/src/sandboxes/ssh-gateway.int.test.ts',
  'apps/server/src/workspaces/s3-storage.int.test.ts',
  'test/security/workspace-symlink-race.int.test.ts',
  'test/mesh/devices.int.test.ts',
];

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // One file at a time unless RUNTOOLS_TEST_WORKERS says more. On two cores three at once took 33 min of tests,
    // no better than the 34 one at a time took before (sandboxes, image builds and Chromium all want the CPU), and
    // two files failed from the contention alone (a template build past fetch's 300 s headers timeout, an upload
    // refused at the quota read as a reset connection).
    maxWorkers: Number(process.env.RUNTOOLS_TEST_WORKERS) || 1,
    projects: [
      {
        ...shared,
        test: {
          ...timeouts,
          name: 'unit',
          include: ['{packages,apps}/*/src/**/*.test.ts', 'bench/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        ...shared,
        test: {
          ...timeouts,
          name: 'sqlite',
          include: ['{packages,apps}/*/src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          // What only PostgreSQL can do (several control planes on one database) runs in its project alone.
          exclude: ['**/*.postgres.int.test.ts', '**/node_modules/**'],
          env: { RUNTOOLS_TEST_DB: 'sqlite' },
        },
      },
      ...(postgresUrl
        ? [
            {
              ...shared,
              test: {
                ...timeouts,
                name: 'postgres',
                include: ['{packages,apps}/*/src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
                exclude: [...sqliteOnly, '**/node_modules/**'],
                env: { RUNTOOLS_TEST_DB: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
