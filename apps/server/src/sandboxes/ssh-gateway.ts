import { generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import type { Database } from '../db/schema.js';
import { loginShell } from './access.js';
import type { SandboxService } from './sandbox-service.js';
import { serveSftp } from './sftp.js';
import { isDimension } from './terminal.js';

// ssh2 is CommonJS whose exports Node cannot list for named ESM imports.
const { Server: SshServer, utils } = ssh2;
const sandboxIdPattern = /^sbx_[a-z2-7]{20}$/;

/** The gateway's own host key, made once per data dir (RSA: every SSH client accepts it). */
function hostKey(dataDir: string): Buffer {
  const path = join(dataDir, 'ssh-host-key');
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 3072,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    writeFileSync(path, privateKey, { mode: 0o600 });
  }
  return readFileSync(path);
}

/**
 * The SSH gateway: `ssh <sandboxId>@<host> -p <port>`. The client's public key must be one the sandbox's org
 * registered (`/v1/ssh-keys`), compared in constant time and proven by its signature; then a session gets a
 * login shell or a command (with a pseudo-terminal when asked, window changes followed, the exit code
 * returned) run through the in-sandbox daemon, and `-L` forwards reach ports inside the sandbox. A paused
 * sandbox with autoResume is resumed; a destroyed or paused one is refused with a message on stderr.
 */
export class SshGateway {
  private readonly server: InstanceType<typeof SshServer>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly sandboxes: SandboxService,
    dataDir: string,
    private readonly logger: Logger,
    /** A connection not logged in by then is closed: stalled or idle handshakes must not hold sockets. */
    private readonly loginGraceMs = 120_000,
  ) {
    this.server = new SshServer({ hostKeys: [hostKey(dataDir)] }, (client) => this.connection(client));
    this.server.on('error', (error: Error) => this.logger.warn({ err: error }, 'ssh gateway error'));
    // Every TCP connection must log in within the grace time (sshd's LoginGraceTime), or its socket is
    // destroyed: ssh2 hands us a connection only after its version line, so the clock starts at accept.
    const tcp = (this.server as unknown as { _srv: NetServer })._srv;
    tcp.on('connection', (socket: Socket) => {
      const grace = setTimeout(() => socket.destroy(), this.loginGraceMs);
      grace.unref();
      this.logins.set(socket, grace);
      socket.once('close', () => clearTimeout(grace));
    });
  }

  /** The login deadline of each connection, cleared once it is logged in. */
  private readonly logins = new WeakMap<Socket, NodeJS.Timeout>();

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening and ends every open session (a server that waited for them would never stop). */
  close(): Promise<void> {
    for (const client of this.clients) client.end();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private readonly clients = new Set<Connection>();

  /** Whether `key` (algorithm and blob) is one of the org's registered keys. */
  private async registered(orgId: string, algorithm: string, blob: Buffer): Promise<boolean> {
    const rows = await this.db.selectFrom('ssh_keys').select('public_key').where('org_id', '=', orgId).execute();
    let found = false;
    for (const row of rows) {
      const [type, base64] = row.public_key.split(' ');
      const stored = Buffer.from(base64 ?? '', 'base64');
      // Every key is compared, equal or not, so timing says nothing about which matched.
      if (stored.length === blob.length && timingSafeEqual(stored, blob) && type === algorithm) found = true;
    }
    return found;
  }

  private connection(client: Connection): void {
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    let orgId: string | undefined;
    let sandboxId: string | undefined;
    client.on('error', () => {});
    client.on('authentication', (context) => {
      void (async () => {
        if (context.method !== 'publickey' || !sandboxIdPattern.test(context.username)) {
          context.reject(['publickey']);
          return;
        }
        const org = await this.sandboxes.orgOf(context.username);
        if (!org || !(await this.registered(org, context.key.algo, context.key.data))) {
          context.reject(['publickey']);
          return;
        }
        if (context.signature && context.blob) {
          const parsed = utils.parseKey(`${context.key.algo} ${context.key.data.toString('base64')}`);
          const key = Array.isArray(parsed) ? parsed[0] : parsed;
          if (!key || key instanceof Error || !key.verify(context.blob, context.signature, context.hashAlgo)) {
            context.reject(['publickey']);
            return;
          }
        }
        orgId = org;
        sandboxId = context.username;
        context.accept();
      })().catch((error: Error) => {
        this.logger.warn({ err: error }, 'ssh authentication failed');
        context.reject(['publickey']);
      });
    });
    client.on('ready', () => {
      const socket = (client as unknown as { _sock?: Socket })._sock;
      if (socket) clearTimeout(this.logins.get(socket));
      const org = orgId as string;
      const id = sandboxId as string;
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let pty: { cols: number; rows: number } | undefined;
        let resize: ((cols: number, rows: number) => void) | undefined;
        session.on('pty', (accept, _reject, info) => {
          pty = { cols: isDimension(info.cols) ? info.cols : 80, rows: isDimension(info.rows) ? info.rows : 24 };
          accept?.();
        });
        session.on('window-change', (accept, _reject, info) => {
          if (isDimension(info.cols) && isDimension(info.rows)) resize?.(info.cols, info.rows);
          accept?.();
        });
        session.on('env', (accept) => accept?.());
        // accept() answers nothing when the client closed the session first.
        const start = (argv: string[], stream: ServerChannel | undefined) => {
          if (!stream) return;
          this.run(org, id, argv, pty, stream).then(
            (running) => {
              resize = running;
            },
            (error: Error) => {
              this.logger.warn({ err: error }, 'ssh session failed');
              stream.close();
            },
          );
        };
        session.on('shell', (accept) => start(loginShell, accept()));
        session.on('exec', (accept, _reject, info) => start(['/bin/sh', '-c', info.command], accept()));
        session.on('sftp', (accept) => {
          const sftp = accept();
          if (sftp) serveSftp(sftp, () => this.sandboxes.channelInOrg(org, id));
        });
        session.on('subsystem', (_accept, reject) => reject());
      });
      client.on('tcpip', (accept, reject, info) => {
        if (!(info.destPort >= 1 && info.destPort <= 65535)) return reject();
        this.sandboxes
          .channelInOrg(org, id)
          .then((channel) => channel.tunnel(info.destPort))
          .then(
            (tunnel) => {
              const stream = accept() as ServerChannel | undefined;
              // The client gave up on the forward while the tunnel opened.
              if (!stream) return void tunnel.destroy();
              // A reset on either side ends this forward, never the process.
              stream.on('error', () => tunnel.destroy());
              stream.pipe(tunnel).pipe(stream);
              stream.on('close', () => tunnel.destroy());
              tunnel.on('close', () => stream.close());
              tunnel.on('error', () => stream.close());
            },
            () => reject(),
          );
      });
    });
  }

  /** Runs a command for a session; answers how to resize it. */
  private async run(
    orgId: string,
    sandboxId: string,
    argv: string[],
    pty: { cols: number; rows: number } | undefined,
    stream: ServerChannel,
  ): Promise<((cols: number, rows: number) => void) | undefined> {
    stream.on('error', () => {});
    let channel: Awaited<ReturnType<SandboxService['channelInOrg']>>;
    try {
      channel = await this.sandboxes.channelInOrg(orgId, sandboxId);
    } catch (error) {
      stream.stderr.write(`runtools: ${(error as Error).message}\r\n`);
      stream.exit(1);
      stream.end();
      return undefined;
    }
    const running = channel.exec(
      { argv, ...(pty ? { pty } : {}), env: { TERM: 'xterm-256color' } },
      { onStdout: (chunk) => stream.write(chunk), onStderr: (chunk) => stream.stderr.write(chunk) },
    );
    stream.on('data', (data: Buffer) => void running.write(data).catch(() => {}));
    stream.on('end', () => {
      if (!pty) running.closeStdin();
    });
    stream.on('close', () => running.cancel());
    running.done.then(
      (outcome) => {
        // Without an exit code the process was cancelled because this channel closed: nobody to tell.
        if (outcome.exitCode !== undefined) stream.exit(outcome.exitCode);
        stream.end();
      },
      (error: Error) => {
        stream.stderr.write(`runtools: ${error.message}\r\n`);
        stream.exit(255);
        stream.end();
      },
    );
    return (cols, rows) => running.resize(cols, rows);
  }
}
