import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ArchivistError, type ErrorCode } from '../errors.js';
import { parseRequest } from '../runs/run-requests.js';

/** How an ArchivistError maps to HTTP: bad input 400, unknown things 404, the rest is the server's fault. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  usage: 400,
  'asset-ambiguous': 400,
  'source-invalid': 400,
  'source-exists': 409,
  'source-overlap': 400,
  'not-found': 404,
  'asset-unknown': 404,
  'source-unknown': 404,
  'source-changed': 409,
  forbidden: 403,
  unauthorized: 401,
};

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    retryable: boolean;
    hint?: string;
    /** The request field that is wrong (`collection`, `set`, `workers`...), when one is. */
    field?: string;
    /** For a bad step param: which one (`thumbnail.size`). */
    param?: string;
  };
}

/** A usage error about one field, in the `field: message` form parseRequest uses. */
export function badField(field: string, message: string, hint?: string): ArchivistError {
  return new ArchivistError('usage', `${field}: ${message}`, hint ? { hint } : {});
}

/** Parses a query string, params or body with a zod schema; a problem is a 400 naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  return parseRequest(schema, input);
}

/**
 * Names the field an error is about, from the shapes the shared modules use: `field: message`
 * (parseRequest), `--set step.param=...` and `invalid params: step.param=...` (resolveParams), and the
 * messages about an unknown pipeline or collection.
 */
export function fieldOf(error: ArchivistError): { field?: string; param?: string } {
  const message = error.message;
  const param = /^(?:--set |invalid params: )([^.=\s]+\.[^=\s]+)=/.exec(message);
  if (param) return { field: 'set', param: param[1] };
  if (message.startsWith('--set ')) return { field: 'set' };
  if (message.startsWith('unknown pipeline')) return { field: 'pipeline' };
  if (message.startsWith('--min-free ')) return { field: 'minFree' };
  if (/^(there is no collection|collection ")/.test(message)) return { field: 'collection' };
  const named = /^([A-Za-z][\w.]*): /.exec(message);
  if (named) return { field: named[1] };
  return {};
}

export function errorBody(error: ArchivistError): ErrorBody {
  return { error: { ...error.toJSON(), ...fieldOf(error) } };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ArchivistError | Error, request, reply) => {
    if (error instanceof ArchivistError) {
      const status = STATUS[error.code] ?? 500;
      if (status >= 500) request.log.error(error);
      return reply.status(status).send(errorBody(error));
    }
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 500) {
      process.stderr.write(
        `archivist serve: ${request.method} ${request.url}: ${error.stack ?? error.message}\n`,
      );
    }
    const body: ErrorBody = {
      error: {
        code: status >= 500 ? 'internal' : 'usage',
        message: error.message,
        retryable: false,
      },
    };
    return reply.status(status).send(body);
  });
}
