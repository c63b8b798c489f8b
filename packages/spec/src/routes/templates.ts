import { z } from 'zod';
import { Deleted, PageQuery } from '../common.js';
import { Template, TemplateBuildEvent, TemplateCreateRequest, TemplateList, TemplateParams } from '../templates.js';
import { route } from './contract.js';

/** Templates: the images sandboxes start from, and their builds. */
export const templatesRoutes = {
  templatesList: route({
    method: 'GET',
    path: '/v1/templates',
    summary: "Templates: the built-in ones (in a fixed order), then the org's own by name, with whether each is built",
    tag: 'templates',
    auth: 'key',
    scopes: ['sandboxes:read'],
    query: z.object({ ...PageQuery }),
    response: TemplateList,
    status: 200,
  }),
  templatesGet: route({
    method: 'GET',
    path: '/v1/templates/:templateName',
    summary: 'One template',
    tag: 'templates',
    auth: 'key',
    scopes: ['sandboxes:read'],
    params: TemplateParams,
    response: Template,
    status: 200,
  }),
  templatesCreate: route({
    method: 'POST',
    path: '/v1/templates',
    summary: 'Define a custom template (built by the build route, or by the first sandbox that uses it)',
    tag: 'templates',
    auth: 'key',
    scopes: ['sandboxes:write'],
    body: TemplateCreateRequest,
    response: Template,
    status: 201,
  }),
  templatesBuild: route({
    method: 'POST',
    path: '/v1/templates/:templateName/build',
    summary: 'Build a template (and its bases) now, streaming progress as server-sent events',
    tag: 'templates',
    auth: 'key',
    scopes: ['sandboxes:write'],
    params: TemplateParams,
    response: TemplateBuildEvent,
    status: 200,
    stream: 'sse',
  }),
  templatesDelete: route({
    method: 'DELETE',
    path: '/v1/templates/:templateName',
    summary: 'Delete a custom template (its sandboxes keep running)',
    tag: 'templates',
    auth: 'key',
    scopes: ['sandboxes:write'],
    params: TemplateParams,
    response: Deleted,
    status: 200,
  }),
} as const;
