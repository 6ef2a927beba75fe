import type { Store } from './types.js';

/**
 * Numbered migrations, applied in order at start inside one transaction each. Never edit a landed
 * migration: add the next number. The whole schema is designed up front for the lifecycle in
 * DESIGN.md (inventory → federation → grants → tokens → decisions → detection → posture).
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'foundation',
    sql: `
CREATE TABLE identities (
  id           text PRIMARY KEY,
  kind         text NOT NULL,
  owner        text,
  purpose      text,
  environment  text,
  review_by    timestamptz,
  status       text NOT NULL,
  labels       jsonb NOT NULL DEFAULT '{}',
  attributes   jsonb NOT NULL DEFAULT '{}',
  discovered_by text,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  last_used_at timestamptz
);
CREATE INDEX identities_owner ON identities (owner);

-- The audit chain. body is the canonical JSON that was hashed, byte for byte; the other columns
-- are copies for indexing, and verification checks that they agree with body.
CREATE TABLE audit_events (
  seq       bigint PRIMARY KEY,
  ts        timestamptz NOT NULL,
  type      text NOT NULL,
  identity  text,
  body      text NOT NULL,
  prev_hash text NOT NULL,
  hash      text NOT NULL
);
CREATE INDEX audit_events_type ON audit_events (type, seq);
CREATE INDEX audit_events_identity ON audit_events (identity, seq);
CREATE INDEX audit_events_ts ON audit_events (ts);

-- One row: the chain head. Writers lock it, so every instance appends to one chain.
CREATE TABLE audit_head (
  id   int PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, repeat('0', 64));

CREATE TABLE issuers (
  name       text PRIMARY KEY,
  config     jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE routes (
  name       text PRIMARY KEY,
  config     jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Documents applied as a whole (entities.json): key → body and its hash.
CREATE TABLE config_docs (
  key        text PRIMARY KEY,
  body       jsonb NOT NULL,
  hash       text NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE policy_sets (
  version     bigint PRIMARY KEY,
  files       jsonb NOT NULL,
  schema_text text,
  source_hash text NOT NULL,
  created_at  timestamptz NOT NULL,
  created_by  text
);
CREATE TABLE policy_active (
  id      int PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL REFERENCES policy_sets (version)
);

CREATE TABLE signing_keys (
  kid        text PRIMARY KEY,
  alg        text NOT NULL,
  public_jwk jsonb NOT NULL,
  sealed     text NOT NULL,
  created_at timestamptz NOT NULL,
  retired_at timestamptz
);

CREATE TABLE grants (
  id            text PRIMARY KEY,
  identity      text NOT NULL,
  audience      text NOT NULL,
  actions       jsonb NOT NULL,
  task          jsonb NOT NULL DEFAULT '{}',
  state         text NOT NULL,
  break_glass   boolean NOT NULL DEFAULT false,
  justification text,
  issuer        text,
  decided_by    text,
  decision_reason text,
  created_at    timestamptz NOT NULL,
  activated_at  timestamptz,
  not_after     timestamptz,
  ended_at      timestamptz,
  end_reason    text
);
CREATE INDEX grants_identity ON grants (identity, state);

-- Revocations by jti, grant, identity or issuer. A token is dead when any revocation matching it
-- was made at or after its iat. Rows are kept past the longest token lifetime, then pruned.
CREATE TABLE revocations (
  id         bigserial PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('jti', 'grant', 'identity', 'issuer')),
  value      text NOT NULL,
  reason     text,
  created_at timestamptz NOT NULL,
  created_by text
);

-- Single-use DPoP proof ids, shared by every instance. Unlogged: losing it in a crash only
-- re-opens proofs that are at most one iat window old.
CREATE UNLOGGED TABLE dpop_jti (
  key        text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);

CREATE TABLE findings (
  id         text PRIMARY KEY,
  rule       text NOT NULL,
  identity   text NOT NULL,
  severity   text NOT NULL,
  status     text NOT NULL,
  evidence   jsonb NOT NULL,
  response   text,
  grant_id   text,
  created_at timestamptz NOT NULL,
  responded_at timestamptz,
  resolved_at timestamptz,
  resolution jsonb
);
CREATE INDEX findings_identity ON findings (identity, status);

CREATE TABLE reviews (
  id         text PRIMARY KEY,
  identity   text NOT NULL,
  reason     text NOT NULL,
  status     text NOT NULL,
  detail     jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  decided_at timestamptz,
  decision   jsonb
);
CREATE UNIQUE INDEX reviews_one_open ON reviews (identity, reason) WHERE status = 'open';

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value jsonb NOT NULL
);
`,
  },
  {
    // Numbered apart from its neighbours so parallel branches adding migrations cannot collide.
    version: 20,
    name: 'audit anchors: checkpoints, export cursors, archive anchor',
    sql: `
-- Signed checkpoints of the chain head (the signature is what counts: the signing key is derived from
-- TETHER_MASTER_KEY and never stored here, so a row forged in this table does not verify).
CREATE TABLE audit_checkpoints (
  seq      bigint PRIMARY KEY,
  hash     text NOT NULL,
  ts       timestamptz NOT NULL,
  instance text NOT NULL,
  jws      text NOT NULL
);

-- One row per export sink: how far it has delivered, and which instance holds its lease (only the
-- holder exports, and it advances seq by compare-and-set on owner, so one sink has one exporter).
CREATE TABLE audit_cursors (
  name        text PRIMARY KEY,
  seq         bigint NOT NULL DEFAULT 0,
  owner       text,
  lease_until timestamptz,
  updated_at  timestamptz NOT NULL
);

-- Where the stored chain starts after events were archived and pruned: the last pruned event.
CREATE TABLE audit_anchor (
  id          int PRIMARY KEY CHECK (id = 1),
  seq         bigint NOT NULL,
  hash        text NOT NULL,
  archived_at timestamptz NOT NULL
);
`,
  },
  {
    version: 21,
    name: 'operators and approvals',
    sql: `
-- Named operator accounts (README "Operators"): each token is stored only as its SHA-256 (the token is
-- 256 random bits, so a fast hash does not help guessing), shown once at creation.
CREATE TABLE operators (
  name          text PRIMARY KEY,
  role          text NOT NULL,
  token_hash    text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL,
  created_by    text NOT NULL,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  slack_user_id text UNIQUE
);
-- Approvals by several operators (@approval("2")), who asked (an operator requesting through the
-- CLI may not approve), and until when a pending grant may be decided.
ALTER TABLE grants ADD COLUMN approvals_required int NOT NULL DEFAULT 1;
ALTER TABLE grants ADD COLUMN approvals jsonb NOT NULL DEFAULT '[]';
ALTER TABLE grants ADD COLUMN requested_by text;
ALTER TABLE grants ADD COLUMN decide_by timestamptz;
CREATE INDEX grants_pending_decide_by ON grants (decide_by) WHERE state = 'pending';
-- Break-glass is confirmed by a second operator after the fact; unconfirmed past decide_by is an alert.
ALTER TABLE grants ADD COLUMN confirmed_by text;
ALTER TABLE grants ADD COLUMN confirmed_at timestamptz;
ALTER TABLE grants ADD COLUMN confirm_alerted boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 22,
    name: 'legacy bridge: connectors and credential leases',
    sql: `
-- Connectors (README "Legacy bridge"): the declared config, which names where the admin secret is
-- (an environment variable or a 0600 file on the server), never the secret itself.
CREATE TABLE connectors (
  name       text PRIMARY KEY,
  kind       text NOT NULL,
  config     jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
-- One row per per-task account made on a target. The row is written before the account is made
-- (state 'creating'), so an instance dying half-way leaves a row another instance ends: every
-- account Tether made is findable here until it is gone. Never the password.
CREATE TABLE credential_leases (
  id              text PRIMARY KEY,
  connector       text NOT NULL,
  role            text NOT NULL,
  username        text NOT NULL,
  identity        text NOT NULL,
  grant_id        text NOT NULL,
  jti             text NOT NULL,
  state           text NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  end_reason      text,
  ending_since    timestamptz,
  attempts        int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error      text,
  ended_at        timestamptz,
  sessions_killed int,
  UNIQUE (connector, username)
);
CREATE INDEX credential_leases_live ON credential_leases (state) WHERE state <> 'ended';
CREATE INDEX credential_leases_grant ON credential_leases (grant_id) WHERE state <> 'ended';
-- The sweeper asks, every second, whether a lease's token was revoked by jti.
CREATE INDEX revocations_kind_value ON revocations (kind, value);
`,
  },
  {
    version: 23,
    name: 'console sessions',
    sql: `
-- Console sessions (README "Console"): the cookie's value only as its SHA-256; the CSRF token the page
-- echoes on state changes; an absolute expiry. Any instance serves any session.
CREATE TABLE console_sessions (
  id_hash    text PRIMARY KEY,
  operator   text NOT NULL,
  role       text NOT NULL,
  bootstrap  boolean NOT NULL,
  csrf       text NOT NULL,
  -- A bootstrap-admin session: the SHA-256 of the admin token it logged in with (rotating the token ends it).
  credential_digest text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
`,
  },
  {
    version: 24,
    name: 'delegation',
    sql: `
-- Delegation (RFC 8693 §1.1, README "Delegation"): a grant made by exchanging another Tether token
-- names the grant it came from and the actor it was made for; ending a grant ends its descendants.
ALTER TABLE grants ADD COLUMN parent_id text;
ALTER TABLE grants ADD COLUMN actor text;
CREATE INDEX grants_parent ON grants (parent_id) WHERE parent_id IS NOT NULL;
`,
  },
];

/** Applies pending migrations. Safe to run from several instances at once (advisory lock). */
export async function migrate(store: Store): Promise<number> {
  await store.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  let applied = 0;
  for (const m of MIGRATIONS) {
    const done = await store.tx(async (q) => {
      // Serialise concurrent starters on one database; released at commit.
      await q.query('SELECT pg_advisory_xact_lock(7356001)');
      const seen = await q.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rows.length) return false;
      for (const stmt of splitStatements(m.sql)) await q.query(stmt);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied++;
  }
  return applied;
}

/** Our migrations hold no semicolons inside statements, so a split on `;` at line end is exact. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

export async function schemaVersion(store: Store): Promise<number> {
  const r = await store.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return r.rows[0]?.v ?? 0;
}
