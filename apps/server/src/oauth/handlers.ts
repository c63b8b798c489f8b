import type { oauthRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { OAuthService } from './oauth-service.js';

/** The OAuth broker: apps and connections (`spec/src/routes/oauth.ts`); the callback page is in http/app.ts. */
export function oauthHandlers(deps: { oauth: OAuthService }): DomainHandlers<typeof oauthRoutes> {
  const { oauth } = deps;
  return {
    async oauthProviders({ auth, query }) {
      return oauth.providers(auth, query);
    },
    async oauthAppsList({ auth, query }) {
      return oauth.apps(auth, query);
    },
    async oauthAppSet({ auth, params, body }) {
      return oauth.setApp(auth, params.provider, body);
    },
    async oauthAppDelete({ auth, params }) {
      return oauth.deleteApp(auth, params.provider);
    },
    async oauthConnectionsList({ auth, query }) {
      return oauth.list(auth, query, query);
    },
    async oauthConnectionsCreate({ auth, body }) {
      return oauth.start(auth, body);
    },
    async oauthConnectionsGet({ auth, params }) {
      return oauth.get(auth, params.connectionId);
    },
    async oauthConnectionsDelete({ auth, params }) {
      return oauth.revoke(auth, params.connectionId);
    },
    async oauthConnectionsSetDefault({ auth, params }) {
      return oauth.setDefault(auth, params.connectionId, true);
    },
    async oauthConnectionsUnsetDefault({ auth, params }) {
      return oauth.setDefault(auth, params.connectionId, false);
    },
  };
}
