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
  return new ArchivistError('usage', `${field}: ${message}`, { field, ...(hint ? { hint } : {}) });
}

/** Parses a query string, params or body with a zod schema; a problem is a 400 naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  return parseRequest(schema, input);
}

export function errorBody(error: ArchivistError): ErrorBody {
  return { error: error.toJSON() };
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
