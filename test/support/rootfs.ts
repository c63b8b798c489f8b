import { join } from 'node:path';
import { ensureBaseRootfs, hostTools } from '@runtools/runtime';

/** Where tests keep the base rootfs: built once per checkout (about 40 s), reused by every test after. */
export const testRuntimeDir = join(new URL('../../.runtools-test', import.meta.url).pathname);

export async function testBaseRootfs(): Promise<string> {
  const { debootstrap } = hostTools();
  if (!debootstrap) throw new Error('debootstrap is missing: run scripts/install-runtime.sh');
  const result = await ensureBaseRootfs({ cacheDir: join(testRuntimeDir, 'rootfs'), debootstrap });
  return result.path;
}
