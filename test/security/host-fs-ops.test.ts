import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every host-side module that touches the filesystem or runs commands, with what it touches. A sandbox can write
 * its layers, its daemon's socket directory and every workspace; the host must never resolve a path through
 * them (../shared/DESIGN.md, "Trust boundaries"). A new module that reads, writes or runs anything fails this
 * test until it is added here, so that whether it acts on anything a sandbox can write, and the test that
 * attacks it if so, is decided in review rather than discovered by a tenant.
 */
const reviewed: Record<string, string> = {
  'apps/server/src/bootstrap.ts': 'the data dir: the admin key file (host-only)',
  'apps/server/src/credentials/root-key.ts': 'the data dir: the root key file (host-only)',
  'apps/server/src/credentials/rotate-root.ts': 'the data dir: the root key file (host-only)',
  'apps/server/src/data-dir.ts': 'creates the data dir (host-only)',
  'apps/server/src/db/database.ts': 'the SQLite file in the data dir (host-only)',
  'apps/server/src/http/dashboard-assets.ts':
    'reads the built dashboard (apps/dashboard/dist, or RUNTOOLS_DASHBOARD_DIR: the operator’s, host-only) into memory once at start; requests are answered from memory, never by a path',
  'apps/server/src/version.ts': "reads the package's own package.json",
  'apps/server/src/sandboxes/sandbox-snapshots.ts':
    'snapshot directories (host-only; written by the driver, renamed and removed here); du of a snapshot dir, which never follows symlinks',
  'apps/server/src/sandboxes/ssh-gateway.ts': "the gateway's host key in the data dir (host-only)",
  'apps/server/src/tools/runner/tool-runners.ts':
    "a tool runner's code dir in the data dir (host-only: bound read-only into the runner sandbox, which can neither write nor swap anything in it): the runner program and the org's bundles, written then renamed, and read back before each runner process starts to put back any a tool changed; the real path of the server's own Node binary; the driver's state dir listed for leftover runners",
  'apps/server/src/workspaces/workspace-service.ts':
    'creates the workspaces root and new workspace roots (host-only parents); every operation inside a workspace goes through ConfinedTree',
  'apps/server/src/workspaces/s3-storage.ts':
    'the s3fs mount point and its password file in the data dir (host-only); what is inside the mount goes through ConfinedTree like local workspaces',
  'packages/runtime/src/bundle.ts': "writes the OCI config into the sandbox's host-only bundle directory",
  'packages/runtime/src/channel.ts':
    "opens the daemon's socket O_PATH|O_NOFOLLOW in the sandbox-writable socket dir and authenticates the daemon (drivers/host-paths.test.ts, channel.test.ts)",
  'packages/runtime/src/command.ts': 'runs commands; every caller is listed here',
  'packages/runtime/src/confined-tree.ts':
    'the file server for sandbox-writable trees: openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) in the daemon binary (confined-tree.test.ts)',
  'packages/runtime/src/doctor.ts': 'finds runtime binaries on PATH; its trial sandboxes are made through the drivers',
  'packages/runtime/src/drivers/oci-driver.ts':
    "host-only sandbox, bundle and channel dirs; the sandbox's layer only copied (cp -a, never follows) while it is frozen or stopped, and du; the socket dir only lstat'ed (drivers/host-paths.test.ts)",
  'packages/runtime/src/drivers/gvisor/gvisor-driver.ts':
    "checkpoint images in the sandbox's host-only dir; its layer copied like the OCI driver's (drivers/host-paths.test.ts)",
  'packages/runtime/src/host.ts': 'reads /proc and /sys of the host to find its cgroup and mount setup',
  'packages/runtime/src/network.ts': 'network namespaces and nftables (host-only); reads the host resolv.conf',
  'packages/runtime/src/rootfs.ts':
    'builds the base root filesystem with debootstrap from our own spec, no tenant input',
  'packages/runtime/src/templates.ts':
    "template layers in the template cache (host-only); custom templates' commands and files run in a build sandbox (template-sandbox.ts)",
  'packages/runtime/src/template-sandbox.ts':
    "a build sandbox's layer taken once it is stopped; its commands and files go through its daemon, never the host",
};

const root = new URL('../../', import.meta.url).pathname;
const hostSide = ['apps/server/src', 'packages/runtime/src'];
// Imports only: a module that re-exports one (index.ts) does nothing with it.
const touchesHost = /^import [^;]*from '(node:(fs|fs\/promises|child_process)|(\.\.?\/)+command\.js)'/m;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('host-side file and command operations', () => {
  it('are all reviewed for what a sandbox can write: every module that touches them is listed with what it touches', () => {
    const found = hostSide
      .flatMap((dir) => sources(join(root, dir)))
      .filter((path) => touchesHost.test(readFileSync(path, 'utf8')))
      .map((path) => relative(root, path))
      .sort();
    expect(found, 'a module touches the host filesystem or runs commands: review it and list it here').toEqual(
      Object.keys(reviewed).sort(),
    );
    for (const [path, note] of Object.entries(reviewed)) expect(note.length, path).toBeGreaterThan(20);
  });
});
