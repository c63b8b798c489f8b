import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Data dirs held by servers in this process: the pid file cannot tell them apart from a stale one of ours. */
const heldInProcess = new Set<string>();

export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

export function sqlitePath(dataDir: string): string {
  return join(dataDir, 'runtools.db');
}

const pidFile = (dataDir: string) => join(dataDir, 'server.pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid of a live server using this data dir, if any. A pid file naming this very process is stale (a
 * crashed server whose pid was reused, as pid 1 always is in a container) unless a server here holds the dir.
 */
export function runningServerPid(dataDir: string): number | undefined {
  if (heldInProcess.has(resolve(dataDir))) return process.pid;
  if (!existsSync(pidFile(dataDir))) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile(dataDir), 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

export function writePidFile(dataDir: string): void {
  heldInProcess.add(resolve(dataDir));
  writeFileSync(pidFile(dataDir), `${process.pid}\n`, { mode: 0o600 });
}

export function removePidFile(dataDir: string): void {
  heldInProcess.delete(resolve(dataDir));
  try {
    if (readFileSync(pidFile(dataDir), 'utf8').trim() === String(process.pid)) rmSync(pidFile(dataDir));
  } catch {
    // Already gone.
  }
}
