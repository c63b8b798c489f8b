import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.js';

/** What `runtools login` stores. */
export const StoredConfig = z.object({ url: z.url(), apiKey: z.string().min(1) });
export type StoredConfig = z.infer<typeof StoredConfig>;

export function configDir(): string {
  return process.env.RUNTOOLS_CONFIG_DIR || join(homedir(), '.runtools');
}

export function configPath(): string {
  return join(configDir(), 'config.json');
}

export function readConfig(): StoredConfig | undefined {
  const path = configPath();
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new UserError(`${path} is not valid JSON`, 'run: runtools login');
  }
  const parsed = StoredConfig.safeParse(raw);
  if (!parsed.success) throw new UserError(`${path} is not a RunTools login`, 'run: runtools login');
  return parsed.data;
}

export function writeConfig(config: StoredConfig): string {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const path = configPath();
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function removeConfig(): boolean {
  const path = configPath();
  if (!existsSync(path)) return false;
  rmSync(path);
  return true;
}
