import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { SandboxLimits } from './bundle.js';
import { exitCodeOf } from './channel.js';
import type { SandboxDriver } from './driver.js';

/** How long one template build may take, all its steps together. */
export const templateBuildTimeoutMs = 30 * 60_000;

/**
 * What a build sandbox may use: generous (a compiler, a large apt install), but bounded, because what it
 * runs is a caller's. The disk limit puts its writable layer on an image of its own (see OciDriver.create).
 */
export const templateBuildLimits: SandboxLimits = {
  vcpus: availableParallelism(),
  memoryBytes: 4 * 1024 ** 3,
  maxProcesses: 4096,
  diskBytes: 20 * 1024 ** 3,
};

/**
 * Paths the runtime adds to every sandbox's root (mount points it creates when the layers lack them): they
 * are left out of a built layer, or every sandbox of the template would carry them in its layers.
 */
const runtimeArtefacts = ['.runtools'];

/**
 * A sandbox of the platform's driver that a template layer is built in: its commands run through the
 * in-sandbox daemon, its files are written by the daemon, and its writable layer, copied once the container
 * is stopped, is the new layer. Nothing of the template is run or written by the host: a symlink or a
 * /proc path the build makes leads only within the sandbox.
 */
export class TemplateSandbox {
  private readonly deadline = performance.now() + templateBuildTimeoutMs;

  private constructor(
    private readonly driver: SandboxDriver,
    /** The build sandbox's id with its driver. */
    readonly id: string,
    private readonly record: string,
  ) {}

  /**
   * Starts a build sandbox on `layers` (top first) with internet egress (apt, through the driver's rules;
   * DNS is the host's resolvers). `recordDir` notes which build sandboxes exist, so that a control plane
   * killed mid-build has them removed by the next one (`destroyLeftovers`).
   */
  static async start(driver: SandboxDriver, recordDir: string, layers: readonly string[]): Promise<TemplateSandbox> {
    const id = `template-${randomBytes(6).toString('hex')}`;
    mkdirSync(recordDir, { recursive: true, mode: 0o700 });
    const record = join(recordDir, id);
    writeFileSync(record, String(process.pid));
    const sandbox = new TemplateSandbox(driver, id, record);
    try {
      await driver.create({
        id,
        layers,
        workdir: '/',
        internet: true,
        hostname: 'template',
        env: {},
        limits: templateBuildLimits,
      });
    } catch (error) {
      await sandbox.destroy();
      throw error;
    }
    return sandbox;
  }

  /** Removes the build sandboxes a control plane that is gone (killed mid-build) left behind. */
  static async destroyLeftovers(driver: SandboxDriver, recordDir: string): Promise<void> {
    if (!existsSync(recordDir)) return;
    for (const id of readdirSync(recordDir)) {
      const owner = Number(readFileSync(join(recordDir, id), 'utf8').trim() || 0);
      if (owner && processAlive(owner)) continue;
      await driver.destroy(id).catch(() => {});
      rmSync(join(recordDir, id), { force: true });
    }
  }

  /**
   * Runs a shell script as root in the sandbox (`$@` are `args`), its output line by line to `onProgress`.
   * A failure throws with the script's last output lines.
   */
  async run(script: string, args: readonly string[], onProgress: ((line: string) => void) | undefined): Promise<void> {
    const remaining = Math.floor(this.deadline - performance.now());
    if (remaining <= 0) throw new Error(`template build timed out (${templateBuildTimeoutMs / 60_000} min)`);
    const output = new OutputLines(onProgress);
    const running = this.driver.channel(this.id).exec(
      {
        argv: ['/bin/sh', '-c', script, 'template', ...args],
        env: { HOME: '/root', LANG: 'C.UTF-8' },
        cwd: '/',
        timeoutMs: remaining,
      },
      { onStdout: (chunk) => output.add(chunk), onStderr: (chunk) => output.add(chunk) },
    );
    running.closeStdin();
    const outcome = await running.done;
    output.flush();
    if (outcome.timedOut) {
      throw new Error(
        `template build timed out (${templateBuildTimeoutMs / 60_000} min) in: ${script}\n${output.last(20)}`,
      );
    }
    const exitCode = exitCodeOf(outcome);
    if (exitCode !== 0) throw new Error(`template command failed (exit ${exitCode}): ${script}\n${output.last(20)}`);
  }

  /** Writes a file in the sandbox (the daemon creates its parents), as the sandbox sees the path. */
  async writeFile(path: string, content: string): Promise<void> {
    await this.driver.channel(this.id).writeFile(path, content);
  }

  /**
   * Stops the sandbox and copies its writable layer into `target` (a new directory), overlay whiteouts and
   * xattrs kept; the runtime's own mount points are left out. Returns the layer's directory.
   */
  async finish(target: string): Promise<string> {
    await this.driver.shutdown(this.id);
    // Stopped, nothing in the sandbox changes the layer any more: the copy is all the host reads of it.
    const { memory } = await this.driver.snapshot(this.id, target);
    if (memory) throw new Error('a stopped build sandbox was snapshotted with its memory');
    const layer = join(target, 'layer');
    // The copy is the host's own: removing from it follows no symlink (rm does not, and nothing else writes it).
    for (const path of runtimeArtefacts) rmSync(join(layer, path), { recursive: true, force: true });
    return layer;
  }

  /** Removes the sandbox and everything it had; safe to call again. */
  async destroy(): Promise<void> {
    await this.driver.destroy(this.id);
    rmSync(this.record, { force: true });
  }
}

/** A command's output as lines: each to `onProgress`, the last ones kept for a failure's message. */
export class OutputLines {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly onProgress: ((line: string) => void) | undefined) {}

  add(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.push(line);
  }

  /** Takes a last line that has no newline. */
  flush(): void {
    if (this.partial) this.push(this.partial);
    this.partial = '';
  }

  last(count: number): string {
    return this.lines.slice(-count).join('\n');
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 200) this.lines.shift();
    this.onProgress?.(line);
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
