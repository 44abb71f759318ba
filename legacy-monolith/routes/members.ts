import { Router } from 'express';
import type { Knex } from 'knex';
import { NotFoundError } from '../errors.js';
import { serializeMember, type MemberRow } from '../serializers.js';
import { idParams, parseInput } from '../validation.js';

/** `GET /members/:id`. */
export function createMembersRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.get('/members/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const row = await db('members')
      .where('id', id)
      .first<MemberRow | undefined>('id', 'email', 'name', 'balance', 'created_at');
    if (!row) throw new NotFoundError(`member ${id} not found`);
    res.json(serializeMember(row));
  });

  return router;
}
