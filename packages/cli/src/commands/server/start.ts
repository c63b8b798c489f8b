import type { Command } from 'commander';

interface ServerFlags {
  dataDir?: string;
  port?: string;
  host?: string;
  databaseUrl?: string;
  logLevel?: string;
  runtime?: string;
}

export function register(program: Command): void {
  program
    .command('server')
    .description('run the RunTools control plane (REST API and docs) on embedded defaults unless told otherwise')
    .option('--data-dir <dir>', 'where data, the root key and the admin key live (default ~/.runtools)')
    .option('--port <port>', 'TCP port (default 7400; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--database-url <url>', 'postgres://… to use PostgreSQL instead of the embedded SQLite')
    .option('--runtime <runtime>', 'default sandbox driver: gvisor (default) or container')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .action(async (flags: ServerFlags) => {
      // Loaded here so that client commands never pay for the server's modules.
      const { keepServingOnUncaughtErrors, resolveServerConfig, startServer } = await import('@runtools/server');
      const config = resolveServerConfig(flags);
      const server = await startServer(config);
      // From here on, no input can end this process: what no error path caught is logged, and serving goes on.
      keepServingOnUncaughtErrors(server.logger);
      if (server.adminKey) {
        process.stderr.write(
          `\nAdmin API key (shown once; also saved to ${server.adminKeyPath}):\n\n  ${server.adminKey}\n\n` +
            `Use it with: runtools login --data-dir ${config.dataDir}\n\n`,
        );
      }
      process.stderr.write(
        `RunTools listening on ${server.url}\nDashboard: ${server.url}/ (sign in: runtools dashboard, or paste an API key)\nAPI docs: ${server.url}/docs\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`\n${signal}: stopping (in-flight requests finish first)\n`);
          server.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
