import { Router } from 'express';
import type { Knex } from 'knex';
import { NotFoundError } from './errors.js';
import { WRITTEN_BY_SERVICE } from './ownership.js';
import { idParams, paginationQuery, parseInput, reviewBody, toPagination } from './validation.js';

/** A review joined with the name of the member who wrote it. */
interface ReviewRow {
  id: number;
  product_id: number;
  member_id: number;
  member_name: string;
  rating: number;
  title: string;
  body: string;
  created_at: Date;
}

/** A review as the monolith renders it (keys in this order). */
export interface ReviewJson {
  id: number;
  productId: number;
  member: { id: number; name: string };
  rating: number;
  title: string;
  body: string;
  createdAt: string;
}

const REVIEW_COLUMNS = [
  'id',
  'product_id',
  'member_id',
  'rating',
  'title',
  'body',
  'created_at',
] as const;

function selectReviews(db: Knex): Knex.QueryBuilder {
  return db('reviews as r')
    .join('members as m', 'm.id', 'r.member_id')
    .select(...REVIEW_COLUMNS.map((column) => `r.${column}`), 'm.name as member_name');
}

function serializeReview(row: ReviewRow): ReviewJson {
  return {
    id: row.id,
    productId: row.product_id,
    member: { id: row.member_id, name: row.member_name },
    rating: row.rating,
    title: row.title,
    body: row.body,
    createdAt: row.created_at.toISOString(),
  };
}

async function assertProductExists(db: Knex, id: number): Promise<void> {
  const row = await db('products').where('id', id).first<{ id: number } | undefined>('id');
  if (!row) throw new NotFoundError(`product ${id} not found`);
}

/**
 * `GET /products/:id/reviews` (paginated, newest first, ties by id descending) and
 * `POST /products/:id/reviews` (201 with the review; 404 for an unknown product or member), with
 * the monolith's shapes, validation and errors. A review posted here is the service's own
 * (`written_by = 'service'`, an id from the service's range) and flows back to the monolith.
 */
export function createReviewsRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.get('/products/:id/reviews', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const pagination = toPagination(parseInput(paginationQuery, req.query, 'query'));
    await assertProductExists(db, id);
    const [counted, rows] = await Promise.all([
      db('reviews')
        .where('product_id', id)
        .select(db.raw('count(*)::int as total'))
        .first<{ total: number } | undefined>(),
      selectReviews(db)
        .where('r.product_id', id)
        .orderBy([
          { column: 'r.created_at', order: 'desc' },
          { column: 'r.id', order: 'desc' },
        ])
        .limit(pagination.pageSize)
        .offset(pagination.offset) as Promise<ReviewRow[]>,
    ]);
    res.json({
      items: rows.map(serializeReview),
      page: pagination.page,
      pageSize: pagination.pageSize,
      total: counted?.total ?? 0,
    });
  });

  router.post('/products/:id/reviews', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const body = parseInput(reviewBody, req.body, 'body');
    await assertProductExists(db, id);
    const member = await db('members')
      .where('id', body.memberId)
      .first<{ name: string } | undefined>('name');
    if (!member) {
      throw new NotFoundError(`member ${body.memberId} not found`, { field: 'memberId' });
    }
    const [inserted] = await db('reviews')
      .insert({
        product_id: id,
        member_id: body.memberId,
        rating: body.rating,
        title: body.title,
        body: body.body,
        written_by: WRITTEN_BY_SERVICE,
      })
      .returning<Omit<ReviewRow, 'member_name'>[]>([...REVIEW_COLUMNS]);
    if (!inserted) throw new Error('insert into reviews returned no row');
    res.status(201).json(serializeReview({ ...inserted, member_name: member.name }));
  });

  return router;
}
