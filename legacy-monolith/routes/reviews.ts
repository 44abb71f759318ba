import { Router } from 'express';
import type { Knex } from 'knex';
import { NotFoundError } from '../errors.js';
import { assertExists, countRows } from '../queries.js';
import { serializePage, serializeReview, type ReviewRow } from '../serializers.js';
import {
  bodySchema,
  idField,
  idParams,
  integerField,
  paginationQuery,
  parseInput,
  textField,
  toPagination,
} from '../validation.js';

const reviewBody = bodySchema({
  memberId: idField,
  rating: integerField(1, 5),
  title: textField(1, 200),
  body: textField(1, 5000),
});

function selectReviews(db: Knex): Knex.QueryBuilder {
  return db('reviews as r')
    .join('members as m', 'm.id', 'r.member_id')
    .select(
      'r.id',
      'r.product_id',
      'r.member_id',
      'm.name as member_name',
      'r.rating',
      'r.title',
      'r.body',
      'r.created_at',
    );
}

/**
 * `GET /products/:id/reviews` (paginated, newest first, ties by id descending) and
 * `POST /products/:id/reviews` (201 with the review; 404 for an unknown product or member).
 */
export function createReviewsRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.get('/products/:id/reviews', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const pagination = toPagination(parseInput(paginationQuery, req.query, 'query'));
    await assertExists(db, 'products', id);
    const [total, rows] = await Promise.all([
      countRows(db('reviews').where('product_id', id)),
      selectReviews(db)
        .where('r.product_id', id)
        .orderBy([
          { column: 'r.created_at', order: 'desc' },
          { column: 'r.id', order: 'desc' },
        ])
        .limit(pagination.pageSize)
        .offset(pagination.offset) as Promise<ReviewRow[]>,
    ]);
    res.json(serializePage(rows.map(serializeReview), pagination, total));
  });

  router.post('/products/:id/reviews', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const body = parseInput(reviewBody, req.body, 'body');
    await assertExists(db, 'products', id);
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
      })
      .returning<Omit<ReviewRow, 'member_name'>[]>([
        'id',
        'product_id',
        'member_id',
        'rating',
        'title',
        'body',
        'created_at',
      ]);
    if (!inserted) throw new Error('insert into reviews returned no row');
    const row: ReviewRow = { ...inserted, member_name: member.name };
    res.status(201).json(serializeReview(row));
  });

  return router;
}
