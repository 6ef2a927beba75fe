/**
 * The web console (README "Console"): static pages built at package build time (dist/console, from
 * console/), served under a strict Content-Security-Policy with no inline script, and the session
 * endpoints that turn an operator token into an HttpOnly, SameSite=Strict cookie. Every screen then
 * calls the admin API itself, with the cookie; roles are the admin API's (server/admin-access.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import type { OperatorPrincipal } from '../operators/roles.js';
import { CSRF_HEADER, sameOrigin } from '../server/admin-access.js';
import { cookieValue, sessionCookie } from '../server/cookies.js';
import { parseWith } from '../server/validate.js';
import { csrfMatches, SESSION_COOKIE, type ConsoleSessions } from './sessions.js';

/** Built assets: dist/src/console/routes.js → dist/console/. */
const ASSET_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Only our own scripts, styles and API; the posture report is framed from the same origin. No
 * inline script or style anywhere (the report frame is sandboxed without scripts).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const LoginBody = z.strictObject({ token: z.string().min(1).max(512) });
/** A login is one token of at most 512 characters: anyone may post here, so nothing larger is parsed. */
const LOGIN_BODY_LIMIT = 16 * 1024;

/** Every built file, read once at start: the set of servable paths is fixed (no path from input reaches the disk). */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  let names: string[] = [];
  try {
    names = readdirSync(ASSET_DIR);
  } catch {
    return out;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, { body: readFileSync(ASSET_DIR + name), type });
  }
  return out;
}

export async function consoleRoutes(
  app: FastifyInstance,
  opts: {
    sessions: ConsoleSessions;
    login: (req: FastifyRequest, token: string) => Promise<OperatorPrincipal>;
    /** Whether the broker is reached over https (the cookie is then Secure). */
    secure: () => boolean;
  },
) {
  const assets = loadAssets();
  const send = (reply: FastifyReply, name: string) => {
    const a = assets.get(name);
    if (!a) throw new TetherError('not_found', 'no such console asset');
    return reply
      .header('Content-Security-Policy', CSP)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('Cache-Control', name === 'index.html' ? 'no-store' : 'no-cache')
      .type(a.type)
      .send(a.body);
  };
  app.get('/console', async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/', async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/assets/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    return send(reply, name);
  });

  const view = (operator: OperatorPrincipal, csrf: string, expiresAt: Date) => ({ operator: operator.name, role: operator.role, csrf_token: csrf, expires_at: expiresAt.toISOString() });

  app.post('/console/api/login', { config: { surface: 'admin' as const }, bodyLimit: LOGIN_BODY_LIMIT }, async (req, reply) => {
    const body = parseWith(LoginBody, req.body, 'body');
    const operator = await opts.login(req, body.token);
    const { id, session } = await opts.sessions.start(operator, req.ip);
    reply.header('Set-Cookie', sessionCookie(SESSION_COOKIE, id, { maxAgeSeconds: opts.sessions.ttlSeconds, secure: opts.secure() }));
    reply.header('Cache-Control', 'no-store');
    return view(operator, session.csrf, session.expiresAt);
  });

  const current = async (req: FastifyRequest) => {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const session = id === undefined ? null : await opts.sessions.find(id);
    if (!session || id === undefined) throw new TetherError('unauthorized', 'not logged in to the console');
    return { id, session };
  };

  // The page learns its CSRF token here after a reload (the token is never in a cookie or the URL).
  app.get('/console/api/session', { config: { surface: 'admin' as const } }, async (req, reply) => {
    const { session } = await current(req);
    reply.header('Cache-Control', 'no-store');
    return view(session.operator, session.csrf, session.expiresAt);
  });

  app.post('/console/api/logout', { config: { surface: 'admin' as const } }, async (req, reply) => {
    const { id, session } = await current(req);
    if (!sameOrigin(req)) throw new TetherError('forbidden', 'logout from another origin');
    if (!csrfMatches(session, req.headers[CSRF_HEADER])) throw new TetherError('forbidden', `logout needs the session's CSRF token in ${CSRF_HEADER}`);
    await opts.sessions.end(id, session.operator.name);
    reply.header('Set-Cookie', sessionCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, secure: opts.secure() }));
    return { logged_out: true };
  });
}
