import type { templatesRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { TemplateService } from './template-service.js';

/** Templates: the images sandboxes start from, and their builds (`spec/src/routes/templates.ts`). */
export function templatesHandlers(deps: { templates: TemplateService }): DomainHandlers<typeof templatesRoutes> {
  return {
    async templatesList({ auth, query }) {
      return deps.templates.list(auth, query);
    },
    async templatesGet({ auth, params }) {
      return deps.templates.get(auth, params.templateName);
    },
    async templatesCreate({ auth, body }) {
      return deps.templates.create(auth, body);
    },
    async templatesBuild({ auth, params }) {
      return deps.templates.build(auth, params.templateName);
    },
    async templatesDelete({ auth, params }) {
      return deps.templates.delete(auth, params.templateName);
    },
  };
}
