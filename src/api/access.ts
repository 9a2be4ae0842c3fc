import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from './http-errors.js';

/**
 * Who may talk to `archivist serve`, and from where. The server holds someone's private photos and can
 * start runs, and the browser its user browses with is the obvious way in for any web page. Each rule
 * below answers one attack (docs/principles.md lists them):
 *
 * - DNS rebinding: a page on `attacker.example` whose name is later resolved to 127.0.0.1 reaches this
 *   server with `Host: attacker.example`. Only exact names are answered (loopback names, IP literals when
 *   serving beyond loopback, names the user configured), and only with the port the request came in on.
 * - Cross-site requests: a form or `fetch(..., {mode: 'no-cors'})` on another site can send a POST with a
 *   "simple" content type. State changes need `Content-Type: application/json` and the
 *   `X-Archivist-Request` header, neither of which a cross-site page can send without a CORS preflight
 *   (which this server never grants), and a foreign `Origin` or `Sec-Fetch-Site` is refused outright.
 *   Reads embedded by another site (`<img src>` of an original) are refused by `Sec-Fetch-Site` and by
 *   `Cross-Origin-Resource-Policy`.
 * - The network: beyond loopback, every request needs the access token (a bearer header for scripts, a
 *   `SameSite=Strict` cookie for the UI, set once from `?token=`).
 * - Framing: every response says `frame-ancestors 'none'`.
 */

/** The header the UI sends with every state change; an HTML form cannot set a header. */
export const REQUEST_HEADER = 'x-archivist-request';
export const TOKEN_COOKIE = 'archivist_token';
/** Long enough that guessing over HTTP is hopeless; `openssl rand -hex 32` gives 64. */
export const MIN_TOKEN_LENGTH = 32;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An address or name that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare === '::1') return true;
  // Any 127.x.y.z literal, parsed strictly: `127.0.0.1.evil.example` is a name, not an address.
  return net.isIPv4(bare) && bare.startsWith('127.');
}

export interface AccessOptions {
  /** The address the server listens on. */
  boundHost: string;
  /** Extra names the UI may be reached by (config `server.allowedHosts`), such as `nas.local`. */
  allowedHosts?: readonly string[];
  /** Required on every request when set; required to serve beyond loopback. */
  accessToken?: string | undefined;
}

function refuse(reply: FastifyReply, status: number, code: string, message: string, hint?: string) {
  const body: ErrorBody = { error: { code, message, retryable: false, ...(hint ? { hint } : {}) } };
  return reply.status(status).header('cache-control', 'no-store').send(body);
}

/** `Host` split into a lower-case name (IPv6 in brackets) and a port; undefined when it is not one. */
function parseHostHeader(header: string): { name: string; port: string } | undefined {
  // Only the characters a host and port can have: no userinfo, path or spaces to confuse URL parsing.
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(header)) return undefined;
  try {
    const url = new URL(`http://${header}`);
    return { name: url.hostname.toLowerCase(), port: url.port || '80' };
  } catch {
    return undefined;
  }
}

/** Names this server answers to, besides loopback ones. */
function namesFor(options: AccessOptions): Set<string> {
  const names = new Set((options.allowedHosts ?? []).map((name) => name.toLowerCase()));
  if (!isLoopback(options.boundHost)) {
    // Serving on the network, the machine's own name is the one people type.
    const hostname = os.hostname().toLowerCase();
    names.add(hostname);
    if (!hostname.includes('.')) names.add(`${hostname}.local`);
    if (options.boundHost !== '0.0.0.0' && options.boundHost !== '::') names.add(options.boundHost);
  }
  return names;
}

function hostAllowed(name: string, loopbackOnly: boolean, names: Set<string>): boolean {
  if (LOOPBACK_NAMES.has(name) || isLoopback(name) || names.has(name)) return true;
  // An IP literal cannot be rebound to another address, so beyond loopback any literal is the address
  // the client really connected to.
  const bare = name.startsWith('[') ? name.slice(1, -1) : name;
  return !loopbackOnly && net.isIP(bare) !== 0;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

const LOGIN_PAGE = `<!doctype html><meta charset="utf-8"><title>Archivist: access token needed</title>
<p>This Archivist server needs its access token.</p>
<p>Open the address <code>archivist serve</code> printed (it ends with <code>?token=…</code>), or paste the
token (<code>server.accessToken</code> in the home's <code>config.json</code>):</p>
<form method="get" action="/"><input name="token" type="password" autocomplete="current-password" size="40">
<button>Open</button></form>`;

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function registerAccessControl(app: FastifyInstance, options: AccessOptions): void {
  const loopbackOnly = isLoopback(options.boundHost);
  const names = namesFor(options);
  const token = options.accessToken ? digest(options.accessToken) : undefined;
  const tokenMatches = (candidate: string | undefined) =>
    candidate !== undefined && token !== undefined && timingSafeEqual(digest(candidate), token);

  // Fastify parses text/plain bodies by default; nothing here takes one, and accepting it would let a
  // cross-site form's POST through as an empty request.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.host ?? '';
    const host = parseHostHeader(header);
    // The port must be the one the request came in on: `localhost:80` on a server at :8750 means a proxy
    // or a rebinding page, not the user. (In-process tests have no socket port.)
    const localPort = request.socket.localPort;
    if (
      !host ||
      !hostAllowed(host.name, loopbackOnly, names) ||
      (localPort !== undefined && host.port !== String(localPort))
    ) {
      return refuse(
        reply,
        403,
        'forbidden',
        `host ${JSON.stringify(header)} is not this server`,
        'Open the address `archivist serve` printed, or add the name to server.allowedHosts in config.json.',
      );
    }

    const fetchSite = request.headers['sec-fetch-site'];
    const foreignSite = fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none';
    // Another site may link to the UI (a top-level navigation shows the page to the user only), but may
    // not embed or fetch anything from it.
    if (foreignSite && !(request.method === 'GET' && request.headers['sec-fetch-mode'] === 'navigate')) {
      return refuse(reply, 403, 'forbidden', `cross-site request refused (Sec-Fetch-Site: ${fetchSite})`);
    }

    if (token) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      const fromQuery = (request.query as Record<string, unknown> | undefined)?.token;
      if (request.method === 'GET' && typeof fromQuery === 'string' && tokenMatches(fromQuery)) {
        // The token leaves the address bar at once: it lives on in an HttpOnly cookie only this site gets.
        const url = new URL(request.url, 'http://x');
        url.searchParams.delete('token');
        return reply
          .header(
            'set-cookie',
            `${TOKEN_COOKIE}=${encodeURIComponent(fromQuery)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000`,
          )
          .header('cache-control', 'no-store')
          .redirect(`${url.pathname}${url.search}`, 303);
      }
      if (!tokenMatches(bearer) && !tokenMatches(cookieValue(request.headers.cookie, TOKEN_COOKIE))) {
        const pathname = request.url.split('?')[0] ?? '/';
        reply.header('www-authenticate', 'Bearer realm="archivist"');
        if (request.method === 'GET' && !pathname.startsWith('/api/')) {
          return reply.status(401).type('text/html; charset=utf-8').send(LOGIN_PAGE);
        }
        return refuse(
          reply,
          401,
          'unauthorized',
          'this server needs its access token',
          'Send `Authorization: Bearer <token>` (server.accessToken in the home config.json).',
        );
      }
    }

    if (STATE_CHANGING.has(request.method)) {
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== `http://${header}`) {
        return refuse(reply, 403, 'forbidden', `request from another origin refused (Origin: ${origin})`);
      }
      if (!isJson(request.headers['content-type'])) {
        return refuse(
          reply,
          415,
          'usage',
          `a ${request.method} needs Content-Type: application/json (got ${request.headers['content-type'] ?? 'none'})`,
        );
      }
      if (request.headers[REQUEST_HEADER] === undefined) {
        return refuse(
          reply,
          403,
          'forbidden',
          `a ${request.method} needs the ${REQUEST_HEADER} header`,
          `Scripts: add \`-H '${REQUEST_HEADER}: 1'\`; it proves the request is not a cross-site form.`,
        );
      }
    }
  });
}

/** The UI's own pages and scripts only: no inline script, nothing from elsewhere, never in a frame. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every response; a route that sets its own CSP (originals: `sandbox`) keeps it. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    }
    reply
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-resource-policy', 'same-origin')
      .header('cross-origin-opener-policy', 'same-origin');
    return payload;
  });
}
