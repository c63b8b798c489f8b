import type { Command } from 'commander';
import { configPath, removeConfig } from '../../config.js';

export function register(program: Command): void {
  program
    .command('logout')
    .description('forget the stored URL and API key')
    .action(() => {
      const removed = removeConfig();
      process.stdout.write(removed ? `Removed ${configPath()}\n` : 'Not logged in\n');
    });
}
