import type { Template, TemplateCreateRequest } from '@runtools/spec';
import { ValidationError } from '../errors.js';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

const buildTimeoutMs = 60 * 60_000;

/**
 * Templates sandboxes start from: the built-in ones (`minimal`, `base`, `nodejs-20`, `python-ml`, and
 * `base-ubuntu` as an alias of `base`; all Debian bookworm) and the org's own.
 *
 * @example
 * await rt.templates.create({ name: 'jq-tools', base: 'minimal', packages: ['jq'], env: { EDITOR: 'nano' } });
 * await rt.templates.build('jq-tools', { onProgress: (line) => console.log(line) });
 * const sandbox = await rt.sandboxes.create({ template: 'jq-tools' });
 */
export class Templates {
  constructor(private readonly http: HttpClient) {}

  list(): PagedList<Template> {
    return new PagedList((page) => this.http.call('templatesList', { query: page }));
  }

  async get(name: string): Promise<Template> {
    return this.http.call('templatesGet', { params: { templateName: name } });
  }

  /** Defines a custom template; it is built by `build` or by the first sandbox that uses it. */
  async create(input: TemplateCreateRequest): Promise<Template> {
    return this.http.call('templatesCreate', { body: input });
  }

  /**
   * Builds a template (and its bases) now and resolves with it once ready; `onProgress` gets the build's
   * output line by line. A failed build rejects with a ValidationError (`template_build_failed`).
   */
  async build(name: string, options: { onProgress?: (line: string) => void } = {}): Promise<Template> {
    const events = this.http.events(
      'templatesBuild',
      { params: { templateName: name } },
      { timeoutMs: buildTimeoutMs },
    );
    for await (const event of events) {
      if (event.type === 'progress') options.onProgress?.(event.line);
      else if (event.type === 'ready') return event.template;
      else throw new ValidationError(event.message, { code: 'template_build_failed' });
    }
    throw new ValidationError(`the build of ${name} ended without a result`, { code: 'template_build_failed' });
  }

  async delete(name: string): Promise<void> {
    await this.http.call('templatesDelete', { params: { templateName: name } });
  }
}
