import { z } from 'zod';
import { IdentityCreate } from '../inventory/identity-schema.js';

/**
 * What `tether apply -f DIR` sends: the parsed, validated contents of a config directory. The same
 * schema guards the admin endpoint, so a hand-made request gets the same checks as the CLI.
 */
/** A policy set's name: the part of the active policies a directory owns (tether.yaml `policy_set`). */
export const POLICY_SET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const ApplyBundle = z.strictObject({
  policy_set: z.string().regex(POLICY_SET_NAME, 'policy_set must be 1-64 lowercase letters, digits, "-" or "_"').optional(),
  identities: z.array(IdentityCreate).max(100000).default([]),
  issuers: z.array(z.record(z.string(), z.unknown())).max(1000).optional(),
  routes: z.array(z.record(z.string(), z.unknown())).max(1000).optional(),
  mcp_servers: z.array(z.record(z.string(), z.unknown())).max(1000).optional(),
  policies: z.record(z.string().min(1).max(512), z.string().max(1024 * 1024)).optional(),
  schema: z.string().max(1024 * 1024).optional(),
  entities: z.array(z.unknown()).max(100000).optional(),
  /** Legacy bridge connectors (connectors/config.ts checks each on the server, then on its target). */
  connectors: z.array(z.record(z.string(), z.unknown())).max(1000).optional(),
});
export type ApplyBundle = z.infer<typeof ApplyBundle>;
