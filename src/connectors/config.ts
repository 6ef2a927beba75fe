import { z } from 'zod';
import { parseIsoDurationSeconds } from '../policy/iso-duration.js';

/**
 * A connector (tether.yaml `connectors:`): a legacy target Tether makes per-task accounts on. The
 * admin URL never carries its secret: the secret comes from an environment variable or a 0600 file
 * read on the server when used, so the store and the audit log hold only where it is, never what it is.
 */
export const CONNECTOR_KINDS = ['postgresql', 'mariadb', 'redis'] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
/** The longest any per-task account may live, whatever a role says. */
export const MAX_CREDENTIAL_TTL_SECONDS = 24 * 3600;

const Ttl = z
  .string()
  .refine((s) => {
    const n = parseIsoDurationSeconds(s);
    return n !== undefined && n <= MAX_CREDENTIAL_TTL_SECONDS;
  }, `must be an ISO-8601 duration (e.g. PT15M) of at most ${MAX_CREDENTIAL_TTL_SECONDS / 3600} hours`);

/** A SQL statement template: admin-authored, like a policy; `{{name}}` / `{{account}}` name the new account. */
const Statement = z.string().min(1).max(4096);

export const RoleSchema = z
  .strictObject({
    /** PostgreSQL: the template role the account is made a member of (`CREATE ROLE … IN ROLE`). */
    in_role: z.string().min(1).max(63).optional(),
    /** PostgreSQL (`{{name}}`: the quoted role name) or MariaDB (`{{account}}`: `'user'@'host'`). */
    grants: z.array(Statement).max(50).optional(),
    /** Redis: ACL rules laid over `resetkeys resetchannels -@all` (e.g. `~orders:*`, `+get`). */
    acl: z.array(z.string().min(1).max(512).regex(/^\S+$/, 'one ACL rule per entry, no spaces')).max(100).optional(),
    max_ttl: Ttl.optional(),
  })
  .refine((r) => r.in_role !== undefined || (r.grants?.length ?? 0) > 0 || (r.acl?.length ?? 0) > 0, 'a role needs in_role, grants or acl');

export const ConnectorSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'name must be 1-63 lowercase letters, digits, "-" or "_"'),
    kind: z.enum(CONNECTOR_KINDS),
    /** The admin connection, without its password (postgres://user@host:5432/db, mysql://root@host:3306, redis://user@host:6379). */
    url: z.string().min(1).max(2048),
    password_env: z.string().regex(ENV_NAME, 'password_env must name an environment variable').optional(),
    /** A file holding the admin password; refused unless only its owner can read it (0600). */
    password_file: z.string().min(1).max(4096).optional(),
    /** MariaDB: the host part of made accounts (default `%`). */
    account_host: z.string().min(1).max(255).regex(/^[^'\\]+$/).optional(),
    max_ttl: Ttl.default('PT1H'),
    roles: z.record(z.string().regex(NAME, 'role names are 1-63 lowercase letters, digits, "-" or "_"'), RoleSchema),
  })
  .superRefine((c, ctx) => {
    let u: URL;
    try {
      u = new URL(c.url);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'not a URL' });
      return;
    }
    const schemes: Record<ConnectorKind, string[]> = { postgresql: ['postgres:', 'postgresql:'], mariadb: ['mysql:', 'mariadb:'], redis: ['redis:'] };
    if (!schemes[c.kind].includes(u.protocol)) ctx.addIssue({ code: 'custom', path: ['url'], message: `a ${c.kind} connector's URL starts with ${schemes[c.kind].join(' or ')}//` });
    // The secret never rides in config: it would be stored and audited in clear.
    if (u.password !== '' || /password=/i.test(u.search)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'the URL must not carry a password: use password_env or password_file' });
    if (c.password_env !== undefined && c.password_file !== undefined) ctx.addIssue({ code: 'custom', path: ['password_env'], message: 'give password_env or password_file, not both' });
    if (Object.keys(c.roles).length === 0) ctx.addIssue({ code: 'custom', path: ['roles'], message: 'at least one role is required' });
    for (const [name, r] of Object.entries(c.roles)) {
      const bad =
        c.kind === 'redis' ? (r.in_role !== undefined || r.grants !== undefined ? 'a redis role takes acl rules only' : r.acl === undefined ? 'a redis role needs acl rules' : null)
        : c.kind === 'mariadb' ? (r.in_role !== undefined || r.acl !== undefined ? 'a mariadb role takes grants only' : r.grants === undefined ? 'a mariadb role needs grants' : null)
        : r.acl !== undefined ? 'a postgresql role takes in_role and/or grants' : null;
      if (bad) ctx.addIssue({ code: 'custom', path: ['roles', name], message: bad });
      if (c.kind === 'mariadb' && r.grants?.some((g) => !g.includes('{{account}}'))) ctx.addIssue({ code: 'custom', path: ['roles', name, 'grants'], message: 'each MariaDB grant names the account as {{account}}' });
      if (c.kind === 'postgresql' && r.grants?.some((g) => !g.includes('{{name}}'))) ctx.addIssue({ code: 'custom', path: ['roles', name, 'grants'], message: 'each PostgreSQL grant names the role as {{name}}' });
    }
  });

export type ConnectorConfig = z.infer<typeof ConnectorSchema>;
export type RoleConfig = z.infer<typeof RoleSchema>;

/** Seconds a role's accounts may live at most: the role's max_ttl, capped by the connector's. */
export function roleMaxTtlSeconds(c: ConnectorConfig, role: string): number {
  const own = Object.hasOwn(c.roles, role) ? c.roles[role]?.max_ttl : undefined;
  const connector = parseIsoDurationSeconds(c.max_ttl)!;
  return own ? Math.min(parseIsoDurationSeconds(own)!, connector) : connector;
}

/** The audience a caller's token names to ask this connector for credentials. */
export const connectorAudience = (name: string) => `tether:connector:${name}`;
/** The action (scope) of a credential request. */
export const ISSUE_ACTION = 'credentials:issue';
