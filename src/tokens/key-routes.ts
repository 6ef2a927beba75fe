import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../server/validate.js';
import type { KeyStore } from './key-store.js';

const Rotate = z.strictObject({ alg: z.enum(['EdDSA', 'ES256']).optional() }).optional();

export async function keyRoutes(app: FastifyInstance, opts: { keys: KeyStore }) {
  app.get('/keys', async () => ({ active: opts.keys.ring().activeKey(), jwks: opts.keys.ring().jwks() }));
  app.post('/keys/rotate', async (req) => {
    const body = parseWith(Rotate, req.body ?? undefined, 'body');
    return opts.keys.rotate(actorOf(req), body?.alg);
  });
}
