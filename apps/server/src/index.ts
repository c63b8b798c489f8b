export { ConfigError, defaultDataDir, defaultPort, resolveServerConfig, type ServerConfig } from './config.js';
export { RootKeyError } from './credentials/root-key.js';
export { type RotationResult, rotateRootKey } from './credentials/rotate-root.js';
export { keepServingOnUncaughtErrors } from './last-resort.js';
export { type RunningServer, startServer } from './server.js';
export { version } from './version.js';
