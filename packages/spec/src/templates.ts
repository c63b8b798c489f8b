import { z } from 'zod';
import { EnvVars, pageOf, Timestamp } from './common.js';

/** Built-in template names; `base-ubuntu` is an alias of `base` (the image is Debian bookworm, not Ubuntu). */
export const builtinTemplateNames = ['minimal', 'base', 'nodejs-20', 'python-ml', 'base-ubuntu'] as const;

export const TemplateName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'lowercase letters, digits and dashes, up to 63' })
  .meta({ example: 'my-python' });

const DebianPackage = z
  .string()
  .regex(/^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$/, { message: 'a Debian package name, optionally =version' });

/** A custom template: a base template plus packages, commands, files and what sandboxes start with. */
export const TemplateCreateRequest = z
  .object({
    name: TemplateName,
    base: TemplateName.default('base'),
    description: z.string().max(500).optional(),
    packages: z.array(DebianPackage).max(500).optional(),
    commands: z
      .array(z.string().min(1).max(10_000))
      .max(100)
      .optional()
      .meta({ description: 'shell commands run as root in the template after the packages, in order' }),
    files: z
      .record(
        z
          .string()
          .startsWith('/')
          .max(4096)
          .refine((path) => !path.split('/').includes('..'), {
            message: 'no .. segments',
          }),
        z.string().max(1024 * 1024),
      )
      .optional()
      .meta({ description: 'absolute path → text content' }),
    env: EnvVars.optional(),
    workdir: z.string().startsWith('/').max(4096).optional(),
    start: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .meta({ description: 'a shell command started as a background process in every new sandbox' }),
  })
  .strict();
export type TemplateCreateRequest = z.input<typeof TemplateCreateRequest>;

export const TemplateStatus = z.enum(['ready', 'not_built', 'building', 'failed']);
export const Template = z
  .object({
    name: z.string(),
    description: z.string(),
    builtin: z.boolean(),
    default: z.boolean().meta({ description: 'sandboxes created without a template get this one' }),
    base: z.string().nullable(),
    status: TemplateStatus,
    statusReason: z.string().nullable(),
    packages: z.array(z.string()),
    commands: z.array(z.string()),
    files: z.array(z.string()).meta({ description: 'paths of the files it adds' }),
    env: z.record(z.string(), z.string()),
    workdir: z.string().nullable(),
    start: z.string().nullable(),
    createdAt: Timestamp.nullable(),
  })
  .meta({ id: 'Template' });
export type Template = z.infer<typeof Template>;
export const TemplateList = pageOf(Template);
export const TemplateParams = z.object({ templateName: z.string().min(1).max(63) });

/** Progress of a template build, as server-sent events: `progress` lines, then `ready` or `failed`. */
export const TemplateBuildEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('progress'), line: z.string() }),
    z.object({ type: z.literal('ready'), template: Template }),
    z.object({ type: z.literal('failed'), message: z.string() }),
  ])
  .meta({ id: 'TemplateBuildEvent' });
export type TemplateBuildEvent = z.infer<typeof TemplateBuildEvent>;
