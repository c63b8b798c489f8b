import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('../fixtures/summary-reporter', import.meta.url));
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const reporter = fileURLToPath(new URL('./summary-reporter.ts', import.meta.url));
const configDir = mkdtempSync(join(tmpdir(), 'runtools-reporter-'));
afterAll(() => rmSync(configDir, { recursive: true, force: true }));

/** Runs vitest on fixture files with only the summary reporter, and returns what it printed. */
function summarize(files: string[]): { status: number | null; output: string } {
  const config = join(configDir, 'vitest.config.mjs');
  writeFileSync(
    config,
    `export default { test: { include: ${JSON.stringify(files)}, reporters: [${JSON.stringify(reporter)}] } };\n`,
  );
  const result = spawnSync(process.execPath, [vitest, 'run', '--root', fixtures, '--config', config], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return { status: result.status, output: result.stdout };
}

describe('the summary line', () => {
  it('counts the tests a failing beforeAll kept from running as failed, and a failing afterAll once', () => {
    const { status, output } = summarize(['hooks.fixture.ts']);
    expect(status).toBe(1);
    expect(output.trim().split('\n').at(-1)).toBe('2 passed, 4 failed, 2 skipped');
    expect(output).toContain('hooks.fixture.ts > before throws: no runtime here');
    expect(output).toContain('hooks.fixture.ts > outer before throws: the server did not start');
    expect(output).toContain('hooks.fixture.ts > after throws: cleanup failed');
  });

  it("counts a file-level beforeAll's tests and a file that cannot load as failed, naming each", () => {
    const { status, output } = summarize(['file-hook.fixture.ts', 'broken.fixture.ts']);
    expect(status).toBe(1);
    expect(output.trim().split('\n').at(-1)).toBe('0 passed, 2 failed');
    expect(output).toMatch(/^ {2}file-hook\.fixture\.ts: no database$/m);
    expect(output).toMatch(/^ {2}broken\.fixture\.ts: cannot load this file$/m);
  });
});
