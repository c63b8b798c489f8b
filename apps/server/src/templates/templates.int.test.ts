import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, NotFoundError, RunTools, ValidationError } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

const buildTimeout = 30 * 60_000;
const run = randomBytes(4).toString('hex');

describe('templates', () => {
  const fixture = useSandboxServer({ RUNTOOLS_DEFAULT_TEMPLATE: 'base' });

  async function sandbox(template?: string) {
    const created = await fixture.rt.sandboxes.create({ runtime: 'container', ...(template ? { template } : {}) });
    fixture.track(created);
    return created;
  }

  it('lists the built-in templates and refuses unknown ones', async () => {
    const list = await fixture.rt.templates.list();
    expect(list.map((item) => item.name)).toEqual(['minimal', 'base', 'nodejs-20', 'python-ml', 'base-ubuntu']);
    expect(list.find((item) => item.name === 'minimal')).toMatchObject({ status: 'ready', builtin: true, base: null });
    expect(list.find((item) => item.name === 'python-ml')).toMatchObject({ base: 'base', builtin: true });
    expect((await fixture.rt.templates.get('base-ubuntu')).description).toMatch(/^alias of base/);
    await expect(fixture.rt.templates.get('no-such')).rejects.toBeInstanceOf(NotFoundError);
    await expect(fixture.rt.sandboxes.create({ template: 'no-such' })).rejects.toMatchObject({
      code: 'template_not_found',
    });
  });

  it(
    'builds base by default, with git, ripgrep, Node.js, Python and a compiler; base-ubuntu is the same image',
    async () => {
      const box = await sandbox();
      expect(box.info.template).toBe('base');
      const result = await box.exec(
        'git --version && rg --version | head -1 && node --version && python3 --version && gcc --version | head -1 && pwd',
      );
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(
        /^git version 2\.39.*\nripgrep 13.*\nv18\..*\nPython 3\.11.*\ngcc .*12\..*\n\/root\n$/s,
      );
      expect((await fixture.rt.templates.get('base')).status).toBe('ready');
      const alias = await sandbox('base-ubuntu');
      expect((await alias.exec('cat /etc/debian_version')).stdout).toMatch(/^12\./);
    },
    buildTimeout,
  );

  it(
    'nodejs-20 runs Node.js 20 and npm 10',
    async () => {
      const box = await sandbox('nodejs-20');
      const result = await box.exec('node --version && npm --version && node -e "console.log(1 + 1)"');
      expect(result).toMatchObject({ exitCode: 0, stdout: 'v20.20.2\n10.9.9\n2\n' });
    },
    buildTimeout,
  );

  it(
    'python-ml imports NumPy, pandas and scikit-learn',
    async () => {
      const box = await sandbox('python-ml');
      const result = await box.exec(
        'python3 -c "import numpy, pandas, sklearn; from sklearn.linear_model import LinearRegression; m = LinearRegression().fit([[0],[1],[2]], [1,3,5]); print(round(m.predict([[3]])[0]))"',
        { timeout: 120_000 },
      );
      expect(result).toMatchObject({ exitCode: 0, stdout: '7\n' });
    },
    buildTimeout,
  );

  it(
    'builds a custom template from packages, commands, files, env, workdir and a start command',
    async () => {
      const created = await fixture.rt.templates.create({
        name: 'jq-tools',
        base: 'minimal',
        description: 'jq and a greeting',
        packages: ['jq'],
        commands: ['echo built > /etc/built-by', 'chmod +x /opt/app/hello.sh'],
        files: { '/opt/app/hello.sh': '#!/bin/sh\necho "hello from $TOOL"\n' },
        // A value of this run's: the layer is built now, not found in the cache from an earlier run.
        env: { TOOL: 'jq', RUN: run },
        workdir: '/opt/app',
        start: 'echo started > /tmp/start.log; exec sleep 3600',
      });
      expect(created).toMatchObject({ name: 'jq-tools', status: 'not_built', builtin: false, base: 'minimal' });
      const lines: string[] = [];
      const built = await fixture.rt.templates.build('jq-tools', { onProgress: (line) => lines.push(line) });
      expect(built.status).toBe('ready');
      expect(lines.some((line) => /jq/.test(line))).toBe(true);
      expect(lines.at(-1)).toBe('template jq-tools is ready');

      const box = await sandbox('jq-tools');
      const result = await box.exec('echo \'{"a":[1,2]}\' | jq -c .a && cat /etc/built-by && pwd && ./hello.sh');
      expect(result.stdout).toBe('[1,2]\nbuilt\n/opt/app\nhello from jq\n');
      const processes = await box.processes.list();
      expect(processes.map((entry) => entry.command)).toContain('echo started > /tmp/start.log; exec sleep 3600');
      await expect.poll(async () => (await box.exec('cat /tmp/start.log')).stdout).toBe('started\n');

      // A template on top of a custom one.
      await fixture.rt.templates.create({ name: 'jq-more', base: 'jq-tools', env: { MORE: 'yes' } });
      const more = await sandbox('jq-more');
      expect((await more.exec('echo $TOOL $MORE; jq --version')).stdout).toMatch(/^jq yes\njq-1\.6/);
      expect((await fixture.rt.templates.list()).map((item) => item.name)).toEqual(
        expect.arrayContaining(['jq-tools', 'jq-more']),
      );
    },
    buildTimeout,
  );

  it(
    "runs a custom template's commands in a sandbox: neither the host's files nor its loopback are in reach",
    async () => {
      const hostFile = join(tmpdir(), `runtools-template-escape-${run}`);
      rmSync(hostFile, { force: true });
      const port = new URL(fixture.server.url).port;
      await fixture.rt.templates.create({
        name: 'escape-attempts',
        base: 'minimal',
        commands: [
          // As host root in the host's pid namespace, /proc/<pid>/root is the host's root directory.
          `for p in /proc/[0-9]*; do echo pwned 2>/dev/null > $p/root${hostFile} && break; done; true`,
          // In the host's network namespace, the control plane listens on this loopback port.
          `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}' 2>/dev/null && echo reached > /etc/reached-control-plane || true`,
          'echo ran > /etc/escape-ran',
        ],
      });
      await fixture.rt.templates.build('escape-attempts');
      try {
        expect(existsSync(hostFile)).toBe(false);
      } finally {
        rmSync(hostFile, { force: true });
      }
      const box = await sandbox('escape-attempts');
      const result = await box.exec('cat /etc/escape-ran; ls /etc/reached-control-plane');
      expect(result.stdout).toBe('ran\n');
      expect(result.stderr).toMatch(/No such file/);
    },
    buildTimeout,
  );

  it(
    'never writes on the host through a symlink a template made: in its own build or in a child template',
    async () => {
      // Host directories a template points symlinks at. Not under /tmp: a build sandbox has a tmpfs there,
      // and the template keeps, inside, the copies its symlinks lead to.
      const hostConf = mkdtempSync('/var/tmp/runtools-template-conf-');
      const hostEtc = mkdtempSync('/var/tmp/runtools-template-etc-');
      try {
        await fixture.rt.templates.create({
          name: 'link-parent',
          base: 'minimal',
          files: { '/srv/conf/first.txt': `first ${run}\n` },
          commands: [
            `mkdir -p ${hostConf} && cp -a /srv/conf/. ${hostConf}/ && rm -rf /srv/conf && ln -s ${hostConf} /srv/conf`,
            // Where /etc cannot be moved (a file bound over one of its files), the attempt is moot.
            `mkdir -p ${hostEtc} && cp -a /etc/. ${hostEtc}/ && { mv /etc /etc.moved && ln -s ${hostEtc} /etc || true; }`,
            // The layer's marker, which the host writes after the build.
            `ln -s ${hostConf}/marker /.runtools-layer`,
          ],
        });
        await fixture.rt.templates.build('link-parent');
        expect([...readdirSync(hostConf), ...readdirSync(hostEtc)]).toEqual([]);

        await fixture.rt.templates.create({
          name: 'link-child',
          base: 'link-parent',
          files: { '/srv/conf/child.txt': 'from the child\n', '/etc/child.conf': 'child etc\n' },
        });
        await fixture.rt.templates.build('link-child');
        expect([...readdirSync(hostConf), ...readdirSync(hostEtc)]).toEqual([]);

        // The files went where the template's own symlinks lead, inside it.
        const box = await sandbox('link-child');
        const result = await box.exec(
          `cat /srv/conf/first.txt /srv/conf/child.txt /etc/child.conf && readlink /srv/conf && ls ${hostConf}`,
        );
        expect(result.stdout).toBe(`first ${run}\nfrom the child\nchild etc\n${hostConf}\nchild.txt\nfirst.txt\n`);
      } finally {
        rmSync(hostConf, { recursive: true, force: true });
        rmSync(hostEtc, { recursive: true, force: true });
      }
    },
    buildTimeout,
  );

  it('refuses bad template definitions and reports a failed build with its output', async () => {
    await expect(fixture.rt.templates.create({ name: 'base' })).rejects.toMatchObject({ code: 'template_exists' });
    await expect(fixture.rt.templates.create({ name: 'x', base: 'nowhere' })).rejects.toMatchObject({
      code: 'template_not_found',
    });
    await expect(fixture.rt.templates.create({ name: 'Bad Name' })).rejects.toBeInstanceOf(ValidationError);
    await expect(fixture.rt.templates.create({ name: 'x', packages: ['rm -rf /'] })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(fixture.rt.templates.create({ name: 'x', files: { 'relative/path': '' } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(fixture.rt.templates.delete('minimal')).rejects.toBeInstanceOf(ConflictError);

    await fixture.rt.templates.create({ name: 'broken', base: 'minimal', commands: ['echo about to fail; exit 3'] });
    const again = fixture.rt.templates.create({ name: 'broken', base: 'minimal' });
    await expect(again).rejects.toBeInstanceOf(ConflictError);
    await expect(again).rejects.toMatchObject({ code: 'template_exists' });
    const failure = await fixture.rt.templates.build('broken').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as Error).message).toMatch(/exit 3.*about to fail/s);
    expect(await fixture.rt.templates.get('broken')).toMatchObject({ status: 'failed' });
    await expect(fixture.rt.sandboxes.create({ runtime: 'container', template: 'broken' })).rejects.toMatchObject({
      code: 'template_build_failed',
    });
    await fixture.rt.templates.delete('broken');
    await expect(fixture.rt.templates.get('broken')).rejects.toBeInstanceOf(NotFoundError);

    const other = await fixture.rt.orgs.create({ name: 'Template Outsiders' });
    const outsider = new RunTools({ apiKey: other.apiKey.key, baseUrl: fixture.server.url });
    await fixture.rt.templates.create({ name: 'private-one', base: 'minimal' });
    await expect(outsider.templates.get('private-one')).rejects.toBeInstanceOf(NotFoundError);
    expect((await outsider.templates.list()).map((item) => item.name)).not.toContain('private-one');
  });
});
