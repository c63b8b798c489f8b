#!/usr/bin/env node
// Lints and format-checks the files git tracks (`npm run lint`; `--write` fixes them, as `npm run format`).
// Files git does not know are left alone, so that a quick start's script or a scratch file in the checkout
// cannot fail the test command; they are named, and `git add` (or `git add -N`) brings one in. Outside a git
// checkout (an unpacked tarball) everything biome.json includes is checked.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));

function git(args) {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return result.status === 0 ? result.stdout.split('\0').filter(Boolean) : undefined;
}

const tracked = git(['ls-files', '-z', '--cached']);
let targets = ['.'];
if (tracked) {
  // A tracked file deleted in the work tree is not there to check.
  targets = tracked.filter((path) => existsSync(`${root}/${path}`));
  const untracked = git(['ls-files', '-z', '--others', '--exclude-standard']) ?? [];
  if (untracked.length) {
    const shown = untracked.slice(0, 5).join(', ') + (untracked.length > 5 ? `, … (${untracked.length} in all)` : '');
    process.stderr.write(`lint: not checking files git does not track: ${shown} (git add them to include them)\n`);
  }
}
const result = spawnSync(biome, ['check', ...process.argv.slice(2), ...targets], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
