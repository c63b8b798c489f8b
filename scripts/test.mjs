#!/usr/bin/env node
// The test command: lint, build (the crash and CLI tests run the built dist: never a stale one), type-check
// the tests, then every test on SQLite and, when a PostgreSQL server is reachable, on PostgreSQL too; last, a
// check that no sandbox, mount or network namespace the tests made outlived them. Ends with an
// `N passed, N failed` line: vitest's summary reporter's, or one saying which step failed.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { leakedSince, testResources } from './test-leaks.mjs';

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    process.stdout.write(
      `\n0 passed, 1 failed (${command} ${args.join(' ')} exited ${result.status ?? result.signal})\n`,
    );
    process.exit(result.status || 1);
  }
}

function reachable(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const env = { ...process.env };
if (!env.RUNTOOLS_TEST_DATABASE_URL && (await reachable('127.0.0.1', 5432))) {
  env.RUNTOOLS_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
}
console.log(
  env.RUNTOOLS_TEST_DATABASE_URL
    ? `runtools: testing on SQLite and PostgreSQL (${env.RUNTOOLS_TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//')})`
    : 'runtools: testing on SQLite only (no PostgreSQL at 127.0.0.1:5432 and RUNTOOLS_TEST_DATABASE_URL unset)',
);
const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
run(process.execPath, [new URL('lint.mjs', import.meta.url).pathname]);
// Incremental: with nothing changed it takes under a second.
run(bin('tsc'), ['-b', 'packages/spec', 'packages/sdk', 'packages/runtime', 'apps/server', 'packages/cli']);
run(bin('tsc'), ['-p', 'tsconfig.test.json']);
// The SDK as a browser sees it: no Node types, so a Buffer or process.env in its surface fails here.
run(bin('tsc'), ['-p', 'packages/sdk/tsconfig.browser.json']);
// The dashboard (built by setup with Vite, which does not type-check).
run(bin('tsc'), ['-p', 'apps/dashboard/tsconfig.json']);
const before = testResources();
const result = spawnSync(bin('vitest'), ['run', ...process.argv.slice(2)], { stdio: 'inherit', env });
const leaked = await leakedSince(before);
if (leaked.length) {
  process.stdout.write(
    `\nruntools: ${leaked.length} thing(s) the tests made outlived them (node scripts/test-leaks.mjs lists what is here):\n` +
      leaked.map((item) => `  ${item}\n`).join('') +
      `\n0 passed, 1 failed (${leaked.length} sandbox(es), mount(s) or network namespace(s) outlived the tests)\n`,
  );
  process.exit(1);
}
process.exit(result.status ?? 1);
