import { TetherError } from '../errors.js';

const SCOPE_TOKEN = /^[A-Za-z0-9_.:/*-]{1,128}$/;

/** RFC 6749 §3.3 scope: the space-separated actions a task needs. */
export function parseScopes(raw: string): string[] {
  const scopes = [...new Set(raw.split(' ').filter((s) => s.length > 0))];
  if (scopes.length === 0) throw new TetherError('invalid_scope', 'scope is required: the space-separated actions the task needs');
  if (scopes.length > 32) throw new TetherError('invalid_scope', 'at most 32 scopes may be requested at once');
  const bad = scopes.find((s) => !SCOPE_TOKEN.test(s));
  if (bad) throw new TetherError('invalid_scope', `scope ${JSON.stringify(bad.slice(0, 64))} is not a valid action name`);
  return scopes;
}

/** RFC 8693 §2.1: `audience` (a logical name) or `resource` (an absolute URI, RFC 8707). One target. */
export function parseTarget(form: Map<string, string>): string {
  const audience = form.get('audience');
  const resource = form.get('resource');
  if (resource !== undefined) {
    let u: URL;
    try {
      u = new URL(resource);
    } catch {
      throw new TetherError('invalid_target', 'resource must be an absolute URI (RFC 8707 §2)');
    }
    if (u.hash) throw new TetherError('invalid_target', 'resource must not contain a fragment (RFC 8707 §2)');
    if (audience !== undefined && audience !== resource) throw new TetherError('invalid_target', 'give audience or resource, not two different targets');
    return resource;
  }
  if (audience === undefined || audience.length === 0) throw new TetherError('invalid_target', 'audience or resource is required: the service the token is for');
  if (audience.length > 512) throw new TetherError('invalid_target', 'audience is too long');
  return audience;
}

