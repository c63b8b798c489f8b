import { type ErrorCode, errorStatus as statusOf } from '@runtools/spec';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Each error code's HTTP status, from the spec's one error table. */
export const errorStatus: { readonly [code in ErrorCode]: ContentfulStatusCode } = statusOf;
