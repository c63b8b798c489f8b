import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

/** A test vitest skipped because a hook of a suite around it failed, not because it was marked to skip. */
function notRun(test: TestCase): boolean {
  if (test.result().state !== 'skipped' || (test.options.mode !== 'run' && test.options.mode !== 'only')) return false;
  for (let parent: TestSuite | TestModule = test.parent; ; parent = parent.parent) {
    if (parent.errors().length > 0) return true;
    if (parent.type === 'module') return false;
  }
}

/**
 * Prints the closing `N passed, N failed[, N skipped]` line that CI reads. Only a test marked to skip (or
 * skipped by `ctx.skip()`) counts as skipped: one that never ran because a `beforeAll` around it threw (a
 * missing runtime, a server or database that did not start) counts as failed. A suite or file whose
 * `afterAll` failed after its tests ran counts once as failed. Each failed hook is named above the line.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const hooks: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed' || notRun(test)) failed++;
        else skipped++;
      }
      let counted = false;
      for (const suite of [module, ...module.children.allSuites()]) {
        const errors = suite.errors();
        if (errors.length === 0) continue;
        const name =
          suite.type === 'module' ? module.relativeModuleId : `${module.relativeModuleId} > ${suite.fullName}`;
        hooks.push(`${name}: ${errors.map((error) => error.message).join('; ')}`);
        // Its tests that did not run are failures already; a hook that failed after they ran is one more.
        if (![...suite.children.allTests()].some(notRun)) failed++;
        counted = true;
      }
      // A file that failed without an error of its own to show (none of its tests failed either).
      if (!counted && module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
    }
    failed += unhandledErrors.length;
    const named = hooks.length ? `\nfailed outside a test:\n${hooks.map((hook) => `  ${hook}\n`).join('')}` : '';
    process.stdout.write(`${named}\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
