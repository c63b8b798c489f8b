import type { credentialsRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { ApiKeyService } from './api-key-service.js';
import type { SecretService } from './secret-service.js';
import type { SshKeyService } from './ssh-key-service.js';

export interface CredentialsDeps {
  apiKeys: ApiKeyService;
  secrets: SecretService;
  sshKeys: SshKeyService;
}

/** API keys, secrets and SSH keys (`spec/src/routes/credentials.ts`). */
export function credentialsHandlers(deps: CredentialsDeps): DomainHandlers<typeof credentialsRoutes> {
  const { apiKeys, secrets, sshKeys } = deps;
  return {
    async keysCreate({ auth, body }) {
      return apiKeys.create(auth, body);
    },
    async keysList({ auth, query }) {
      return apiKeys.list(auth, query);
    },
    async keysGet({ auth, params }) {
      return apiKeys.get(auth, params.keyId);
    },
    async keysRevoke({ auth, params }) {
      return apiKeys.revoke(auth, params.keyId);
    },

    async secretsSet({ auth, body }) {
      return secrets.set(auth, body);
    },
    async secretsList({ auth, query }) {
      return secrets.list(auth, query);
    },
    async secretsGet({ auth, params }) {
      return secrets.get(auth, params.name);
    },
    async secretsDelete({ auth, params }) {
      return secrets.delete(auth, params.name);
    },

    async sshKeysAdd({ auth, body }) {
      return sshKeys.add(auth, body);
    },
    async sshKeysList({ auth, query }) {
      return sshKeys.list(auth, query);
    },
    async sshKeysRemove({ auth, params }) {
      return sshKeys.remove(auth, params.sshKeyId);
    },
  };
}
