import { z } from 'zod';

export const IDENTITY_KINDS = ['service_account', 'ci_job', 'workload', 'ai_agent', 'api_client'] as const;
export const IDENTITY_STATUSES = ['active', 'suspended', 'retired', 'unowned'] as const;

/** Ids name workloads (`ci/acme/api-deploy`, `spiffe://prod/ns/x`); no spaces, no control chars. */
export const IdentityId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:@/+-]+$/, 'may contain only letters, digits and . _ : @ / + -');

const isoDate = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'must be an ISO 8601 date (YYYY-MM-DD) or date-time',
  });

const labels = z.record(
  z.string().min(1).max(128).regex(/^[A-Za-z0-9._/-]+$/, 'label keys may contain letters, digits and . _ / -'),
  z.string().max(512),
);

const text = (max: number) => z.string().max(max);

export const IdentityCreate = z.strictObject({
  id: IdentityId,
  kind: z.enum(IDENTITY_KINDS),
  owner: z.string().min(1, 'owner is required').max(256),
  purpose: text(1024).optional(),
  environment: text(128).optional(),
  review_by: isoDate.optional(),
  status: z.enum(['active', 'suspended']).optional(),
  labels: labels.optional(),
});
export type IdentityCreate = z.infer<typeof IdentityCreate>;

export const IdentityPatch = z
  .strictObject({
    kind: z.enum(IDENTITY_KINDS).optional(),
    owner: z.string().min(1).max(256).optional(),
    purpose: text(1024).nullable().optional(),
    environment: text(128).nullable().optional(),
    review_by: isoDate.nullable().optional(),
    status: z.enum(['active', 'suspended']).optional(),
    labels: labels.optional(),
    /** Why (recorded in the audit event; the console asks for one on suspend and restore). */
    reason: text(1024).optional(),
  })
  .refine((p) => Object.keys(p).some((k) => k !== 'reason'), { message: 'nothing to change' });
export type IdentityPatch = z.infer<typeof IdentityPatch>;

export interface Identity {
  id: string;
  kind: (typeof IDENTITY_KINDS)[number];
  owner: string | null;
  purpose: string | null;
  environment: string | null;
  review_by: string | null;
  status: (typeof IDENTITY_STATUSES)[number];
  labels: Record<string, string>;
  discovered_by: string | null;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

export const IdentityListQuery = z.strictObject({
  owner: z.string().optional(),
  kind: z.enum(IDENTITY_KINDS).optional(),
  status: z.enum(IDENTITY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().optional(),
});
