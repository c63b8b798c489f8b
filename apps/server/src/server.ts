import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { type Logger, pino } from 'pino';
import { AgentService } from './agents/agent-service.js';
import { ModelResolver } from './agents/models.js';
import { RunService } from './agents/run-service.js';
import { platformActor } from './auth/actor.js';
import { Authenticator } from './auth/authenticate.js';
import { RateLimiter } from './auth/rate-limiter.js';
import { bootstrap } from './bootstrap.js';
import { ConfigError, type ServerConfig } from './config.js';
import { ApiKeyService } from './credentials/api-key-service.js';
import { loadRootKey } from './credentials/root-key.js';
import { SecretService } from './credentials/secret-service.js';
import { SecretStore } from './credentials/secret-store.js';
import { SshKeyService } from './credentials/ssh-key-service.js';
import { DashboardSessions } from './dashboard/sessions.js';
import { prepareDataDir, removePidFile, runningServerPid, sqlitePath, writePidFile } from './data-dir.js';
import { type Db, openDatabase } from './db/database.js';
import { createApp } from './http/app.js';
import { defaultDashboardDir, loadDashboardAssets } from './http/dashboard-assets.js';
import { MeshChannels } from './mesh/channels.js';
import { MeshLinks } from './mesh/links.js';
import { MeshNodes } from './mesh/nodes.js';
import { OAuthService } from './oauth/oauth-service.js';
import { oauthProviders } from './oauth/providers.js';
import { createQueue } from './queue/create-queue.js';
import { type Clock, systemClock } from './queue/job-queue.js';
import { createHandlers } from './routes/handlers.js';
import { DevUrls } from './sandboxes/dev-urls.js';
import { SandboxService } from './sandboxes/sandbox-service.js';
import { SshGateway } from './sandboxes/ssh-gateway.js';
import { Terminals } from './sandboxes/terminal.js';
import { TemplateService } from './templates/template-service.js';
import { Invitations } from './tenancy/invitations.js';
import { MemberService } from './tenancy/member-service.js';
import { OrgService } from './tenancy/org-service.js';
import { ProjectService } from './tenancy/project-service.js';
import { oauthToolScopes } from './tools/marketplace/index.js';
import { ToolRunners } from './tools/runner/tool-runners.js';
import { ToolService } from './tools/tool-service.js';
import { StorageQuota } from './usage/storage-quota.js';
import { version } from './version.js';
import { WorkflowEngine } from './workflows/run-engine.js';
import { RunStore } from './workflows/run-store.js';
import { TriggerService } from './workflows/trigger-service.js';
import { WorkflowService } from './workflows/workflow-service.js';
import { S3WorkspaceStorage } from './workspaces/s3-storage.js';
import { LocalWorkspaceStorage, WorkspaceService } from './workspaces/workspace-service.js';

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  db: Db;
  logger: Logger;
  /** The owner key, set only when this start created the default org. */
  adminKey: string | undefined;
  adminKeyPath: string | undefined;
  rootKeyId: string;
  /** The SSH gateway's port. */
  sshPort: number;
  /** Every route the HTTP app serves, for tests that check each one is in the spec's contract table. */
  routes: { method: string; path: string }[];
  app: { fetch(request: Request): Response | Promise<Response> };
  /** Stops accepting connections, lets in-flight requests finish (up to `graceMs`), then closes the database. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(
  config: ServerConfig,
  options: {
    logger?: Logger;
    /**
     * The clock of scheduled work (delays, waits' timeouts, cron, leases): a test of a delay of days moves it
     * instead of waiting. The system clock by default.
     */
    clock?: Clock;
  } = {},
): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'runtools' } });
  prepareDataDir(config.dataDir);
  if (!config.databaseUrl) {
    const other = runningServerPid(config.dataDir);
    if (other) {
      throw new ConfigError(
        `another RunTools server (pid ${other}) is using ${config.dataDir}; stop it or pick another --data-dir`,
      );
    }
  }
  const db = await openDatabase(config.databaseUrl ?? sqlitePath(config.dataDir));
  try {
    const rootKey = await loadRootKey({ dataDir: config.dataDir, masterKey: config.masterKey, db: db.kysely });
    const boot = await bootstrap(db.kysely, config.dataDir, config.adminKey);
    const templates = new TemplateService(db.kysely, {
      rootfsDir: config.rootfsDir,
      buildDir: join(config.dataDir, 'template-builds'),
      runtime: config.runtime,
      defaultTemplate: config.defaultTemplate,
      logger,
    });
    const storage =
      config.workspaceStorage.kind === 's3'
        ? await S3WorkspaceStorage.open(config.dataDir, config.workspaceStorage)
        : new LocalWorkspaceStorage(join(config.dataDir, 'workspaces'), join(config.dataDir, 'workspace-files'));
    const workspaces = new WorkspaceService(db.kysely, storage);
    const storageQuota = new StorageQuota(db.kysely, storage, {
      quotaBytes: config.orgStorageQuotaBytes,
      defaultDiskBytes: config.defaultSandboxDiskBytes,
    });
    const sandboxes = new SandboxService(db.kysely, {
      dataDir: config.dataDir,
      defaultRuntime: config.runtime,
      defaultTemplate: config.defaultTemplate,
      templates,
      workspaces,
      maxUploadBytes: config.maxUploadBytes,
      maxVcpus: config.maxSandboxVcpus,
      maxMemoryBytes: config.maxSandboxMemoryBytes,
      defaultDiskBytes: config.defaultSandboxDiskBytes,
      storage: storageQuota,
      logger,
    });
    await sandboxes.recover();
    let sweeping = false;
    const idleSweep = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sandboxes
        .pauseIdle()
        .catch((error) => logger.warn({ err: error }, 'idle sweep failed'))
        .finally(() => {
          sweeping = false;
        });
    }, config.idleSweepMs);
    idleSweep.unref();
    const authenticator = new Authenticator(db);
    let listeningPort = config.port;
    const devUrls = new DevUrls(
      db.kysely,
      sandboxes,
      authenticator,
      {
        domain: config.devDomain,
        scheme: config.devUrlScheme,
        port: () => config.devUrlPort ?? listeningPort,
        // Derived from the root key: rotating it voids every signed link.
        secret: createHmac('sha256', rootKey.root.key).update('runtools dev-url links v1').digest(),
      },
      logger,
    );
    const terminals = new Terminals(
      sandboxes,
      authenticator,
      createHmac('sha256', rootKey.root.key).update('runtools terminal tokens v1').digest(),
      logger,
    );
    const secrets = new SecretStore(db, rootKey.root);
    const models = new ModelResolver(db.kysely, secrets, config.providerBaseUrls, config.modelPrices);
    let toolRunners: ToolRunners | undefined;
    let toolRunnersUnavailable: string | undefined;
    try {
      toolRunners = new ToolRunners({
        dataDir: config.dataDir,
        driver: sandboxes.driver(config.toolRuntime),
        layers: async (orgId) => (await templates.resolve(platformActor(orgId), config.toolRunnerTemplate)).layers,
        memoryBytes: config.toolRunnerMemoryBytes,
        vcpus: 1,
        diskBytes: 1024 ** 3,
        idleMs: config.toolRunnerIdleSeconds * 1000,
        logger,
      });
      const removed = await toolRunners.removeLeftovers(join(config.dataDir, 'sandboxes'));
      if (removed) logger.warn({ removed }, 'tool runners a previous server left were destroyed');
    } catch (error) {
      toolRunnersUnavailable = (error as Error).message;
      logger.warn({ reason: toolRunnersUnavailable }, 'custom tools cannot run on this server');
    }
    let publicUrl = '';
    const oauth = new OAuthService(db.kysely, rootKey.root, {
      providers: oauthProviders(config.oauthEndpoints, config.toolBaseUrls),
      toolScopes: oauthToolScopes(),
      publicUrl: () => config.publicUrl ?? publicUrl,
      logger,
    });
    const tools = new ToolService(db.kysely, secrets, rootKey.root, {
      oauth,
      baseUrls: config.toolBaseUrls,
      runners: toolRunners,
      ...(toolRunnersUnavailable ? { runnersUnavailable: toolRunnersUnavailable } : {}),
    });
    // RunMesh: linked devices, their WireGuard config, and the channels they keep to this process.
    const meshNodes = new MeshNodes(db.kysely, { heartbeatSeconds: config.meshHeartbeatSeconds });
    const meshLinks = new MeshLinks(db.kysely, meshNodes, {
      linkRate: new RateLimiter(config.meshLinkRatePerMinute),
      pollRate: new RateLimiter(Math.max(60, config.meshLinkRatePerMinute * 6)),
      missRate: new RateLimiter(config.meshLinkRatePerMinute),
      pollIntervalSeconds: config.meshPollIntervalSeconds,
      logger,
      clock,
    });
    const meshChannels = new MeshChannels(
      db.kysely,
      meshNodes,
      meshLinks,
      { heartbeatSeconds: config.meshHeartbeatSeconds, sweepMs: 1000 },
      logger,
    );
    const agents = new AgentService(db.kysely, sandboxes, models, tools, meshNodes);
    const queue = await createQueue(db.kysely, db.dialect, config.databaseUrl, {
      leaseMs: config.queueLeaseMs,
      forceTable: config.queueBackend === 'table',
      clock,
      onError: (error) => logger.error({ err: error }, 'job queue'),
    });
    // Agent runs go through the queue too, held under leases of the same length: a run whose server died is
    // resumed by whichever server takes it once its lease has expired.
    const runs = new RunService(
      db.kysely,
      agents,
      models,
      sandboxes,
      devUrls,
      secrets,
      tools,
      queue,
      { exaUrl: config.exaUrl, leaseMs: config.queueLeaseMs, mesh: { nodes: meshNodes, channels: meshChannels } },
      logger,
    );
    // Workflows: the job queue (embedded over the database's tables, or pg-boss on PostgreSQL), the engine that
    // runs graphs from their stored state, and the triggers that start runs.
    const workflowStore = new RunStore(db.kysely);
    const projectOf = async (workflowId: string) =>
      (await db.kysely.selectFrom('workflows').select('project_id').where('id', '=', workflowId).executeTakeFirst())
        ?.project_id;
    const engine = new WorkflowEngine(
      db.kysely,
      workflowStore,
      queue,
      { runs, tools, sandboxes, logger, projectOf },
      logger,
      {
        clock,
        leaseMs: config.queueLeaseMs,
        sweepMs: Math.max(250, Math.floor(config.queueLeaseMs / 2)),
        publicUrl: () => config.publicUrl ?? publicUrl,
        nodeConcurrency: 16,
      },
    );
    const workflows = new WorkflowService(db.kysely, workflowStore, engine);
    const triggers = new TriggerService(db.kysely, workflows, engine, rootKey.root, logger, {
      clock,
      publicUrl: () => config.publicUrl ?? publicUrl,
      tickMs: 1000,
    });
    await queue.start();
    const resumed = await runs.recover();
    if (resumed) logger.info({ runs: resumed }, 'agent runs a stopped server left are sent to be resumed');
    await engine.start();
    triggers.start();
    const sessions = new DashboardSessions(db.kysely, authenticator, {
      sessionSeconds: Math.round(config.sessionHours * 3600),
      signInRate: new RateLimiter(config.signInRatePerMinute),
      clock,
    });
    const dashboardDir = config.dashboardDir ?? defaultDashboardDir();
    const dashboard = loadDashboardAssets(dashboardDir);
    if (!dashboard) logger.warn({ dashboardDir }, 'the dashboard is not built here: `/` says how to build it');
    const sshGateway = new SshGateway(db.kysely, sandboxes, config.dataDir, logger, config.sshLoginGraceSeconds * 1000);
    let sshPort = config.sshPort;
    const handlers = createHandlers({
      db,
      sandboxes,
      devUrls,
      terminals,
      publicUrl: () => publicUrl,
      ssh: () => ({
        host: config.sshHost ?? (config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host),
        port: sshPort,
      }),
      templates,
      workspaces,
      storage: storageQuota,
      maxUploadBytes: config.maxUploadBytes,
      orgs: new OrgService(db.kysely),
      projects: new ProjectService(db.kysely),
      members: new MemberService(db.kysely),
      invitations: new Invitations(db.kysely),
      apiKeys: new ApiKeyService(db.kysely),
      secrets: new SecretService(db.kysely, secrets),
      sshKeys: new SshKeyService(db.kysely),
      agents,
      runs,
      tools,
      oauth,
      workflows,
      triggers,
      meshLinks,
      meshNodes,
      sessions,
      configuredPublicUrl: () => config.publicUrl,
      version,
      readinessChecks: () => ({ rootKey: { ok: true, message: `key id ${rootKey.root.id} (${rootKey.source})` } }),
    });
    const app = createApp({
      authenticator,
      authenticateNode: (token) => meshNodes.authenticate(token),
      handlers,
      oauthCallback: (query) => oauth.callback(query),
      sessions,
      dashboard,
      publicUrl: () => config.publicUrl,
      logger,
      version,
      maxBodyBytes: config.maxBodyBytes,
      rateLimiter: config.rateLimitPerMinute > 0 ? new RateLimiter(config.rateLimitPerMinute) : undefined,
    });
    // Requests for a dev URL host go to the sandbox port it names; everything else is the API.
    const api = getRequestListener(app.fetch);
    const server: Server = createServer((request, response) => {
      if (devUrls.isDevHost(request.headers.host)) void devUrls.handle(request, response);
      else void api(request, response);
    });
    // Upgraded connections (WebSockets) leave the HTTP server's own bookkeeping: kept here, so that closing
    // the server ends them rather than waiting on them forever.
    const upgraded = new Set<import('node:stream').Duplex>();
    server.on('upgrade', (request, socket, head) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      // Whatever the peer does to an upgraded socket (a reset, garbage) ends that socket, never the process.
      socket.on('error', () => socket.destroy());
      try {
        if (devUrls.isDevHost(request.headers.host)) void devUrls.upgrade(request, socket, head);
        else if (terminals.sandboxOf(request.url)) void terminals.upgrade(request, socket, head);
        else if (meshChannels.handles(request.url)) void meshChannels.upgrade(request, socket, head);
        else socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } catch (error) {
        logger.warn({ err: error }, 'upgrade refused');
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    writePidFile(config.dataDir);
    const port = (server.address() as AddressInfo).port;
    listeningPort = port;
    const urlHost = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`;
    publicUrl = url;
    sshPort = await sshGateway.listen(config.sshPort, config.host).catch((error: Error) => {
      server.close();
      throw new ConfigError(
        `the SSH gateway cannot listen on port ${config.sshPort}: ${error.message} (set RUNTOOLS_SSH_PORT)`,
      );
    });
    logger.info({ url, database: db.dialect, dataDir: config.dataDir, rootKeyId: rootKey.root.id }, 'server started');
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      host: config.host,
      db,
      logger,
      adminKey: boot.adminKey,
      adminKeyPath: boot.adminKeyPath,
      rootKeyId: rootKey.root.id,
      sshPort,
      app,
      routes: app.routes.map((route) => ({ method: route.method, path: route.path })),
      close(graceMs = 10_000) {
        closing ??= (async () => {
          clearInterval(idleSweep);
          triggers.stop();
          meshChannels.close();
          await engine.stop();
          await queue.stop();
          await runs.close();
          await toolRunners?.close();
          await sshGateway.close();
          for (const socket of upgraded) socket.destroy();
          await new Promise<void>((resolve) => {
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              resolve();
            });
            server.closeIdleConnections();
          });
          storage.close();
          await db.close();
          removePidFile(config.dataDir);
          logger.info('server stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
