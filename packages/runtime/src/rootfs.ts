import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun } from './command.js';

/** The Debian mirror the machine's own apt uses, so the rootfs comes from the same place as its packages. */
export function debianMirror(): string {
  const sources: string[] = [];
  try {
    for (const file of readdirSync('/etc/apt/sources.list.d')) {
      if (file.endsWith('.sources') || file.endsWith('.list'))
        sources.push(readFileSync(join('/etc/apt/sources.list.d', file), 'utf8'));
    }
  } catch {
    // No sources.list.d.
  }
  if (existsSync('/etc/apt/sources.list')) sources.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  for (const text of sources) {
    const match = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+)/m.exec(text);
    if (match?.[1] && !match[1].includes('security')) return match[1];
  }
  return 'http://deb.debian.org/debian';
}

export interface RootfsBuild {
  path: string;
  /** True when this call built it; false when it was already cached. */
  built: boolean;
}

/**
 * A Debian bookworm root filesystem from `debootstrap --variant=minbase`, built once into `cacheDir/name`
 * and reused read-only by every sandbox. Built under a temporary name and renamed into place, so a crash or
 * a concurrent builder never leaves a half-built rootfs where a sandbox would use it.
 */
export async function ensureBaseRootfs(options: {
  cacheDir: string;
  name?: string;
  debootstrap: string;
  packages?: readonly string[];
  onProgress?: (line: string) => void;
}): Promise<RootfsBuild> {
  const name = options.name ?? 'bookworm-minbase';
  const path = join(options.cacheDir, name);
  const marker = join(path, '.runtools-rootfs');
  if (existsSync(marker)) return { path, built: false };
  const building = `${path}.build-${process.pid}-${Date.now()}`;
  rmSync(building, { recursive: true, force: true });
  options.onProgress?.(`building ${name} with debootstrap (about a minute, once)`);
  try {
    await mustRun(
      options.debootstrap,
      [
        '--variant=minbase',
        ...(options.packages?.length ? [`--include=${options.packages.join(',')}`] : []),
        'bookworm',
        building,
        debianMirror(),
      ],
      { timeoutMs: 15 * 60_000 },
    );
    // Sandboxes have no network unless asked: apt inside should not hang on a resolver.
    writeFileSync(join(building, 'etc/hostname'), 'sandbox\n');
    writeFileSync(
      join(building, '.runtools-rootfs'),
      `${JSON.stringify({ name, builtAt: new Date().toISOString() })}\n`,
    );
    try {
      renameSync(building, path);
    } catch (error) {
      // Someone else finished first: theirs is as good as ours.
      if (!existsSync(marker)) throw error;
      rmSync(building, { recursive: true, force: true });
      return { path, built: false };
    }
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  return { path, built: true };
}
