import { join } from 'node:path';
import { ensureBaseRootfs, hostTools } from '@runtools/runtime';

/** Where tests keep the base rootfs: built once per checkout (about 40 s), reused by every test after. */
export const testRuntimeDir = join(new URL('../../.runtools-test', import.meta.url).pathname);

/**
 * Where tests put the host files a hostile sandbox aims its symlinks at. The same path is made inside the
 * sandbox so that the symlink resolves there: it must not be under /tmp, a tmpfs in every sandbox (whose files
 * no layer or snapshot keeps), as the checkout may be.
 */
export function testVictimDir(tag: string): string {
  return join('/var/tmp', `runtools-test-${tag}-${process.pid}`);
}

export async function testBaseRootfs(): Promise<string> {
  const { debootstrap } = hostTools();
  if (!debootstrap) throw new Error('debootstrap is missing: run scripts/install-runtime.sh');
  const result = await ensureBaseRootfs({ cacheDir: join(testRuntimeDir, 'rootfs'), debootstrap });
  return result.path;
}
