import type { Express } from 'express';
import type { Knex } from 'knex';
import {
  createLegacyApp,
  createLegacyDatabase,
  generateSeedData,
  migrateLegacyDatabase,
  seedLegacyDatabase,
  type ProductJson,
  type ReviewJson,
} from '../../legacy-monolith/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/** A migrated, seeded database of its own and the monolith app on top of it. */
export interface SeededMonolith {
  readonly database: TestDatabase;
  readonly db: Knex;
  readonly app: Express;
  close(): Promise<void>;
}

/** Creates a fresh database, migrates and seeds it, and builds the app (for supertest). */
export async function createSeededMonolith(prefix: string): Promise<SeededMonolith> {
  const database = await createTestDatabase(prefix);
  const db = createLegacyDatabase(database.url);
  await migrateLegacyDatabase(db);
  await seedLegacyDatabase(db);
  return {
    database,
    db,
    app: createLegacyApp({ db }),
    close: async () => {
      await db.destroy();
      await database.drop();
    },
  };
}

/** The seed rows, typed for the assertions below. */
export interface SeedProduct {
  id: number;
  sku: string;
  name: string;
  description: string;
  category_id: number;
  price: string;
  stock: number;
  created_at: string;
  updated_at: string;
}
export interface SeedCategory {
  id: number;
  slug: string;
  name: string;
}
export interface SeedMember {
  id: number;
  email: string;
  name: string;
  balance: string;
  created_at: string;
}
export interface SeedReview {
  id: number;
  product_id: number;
  member_id: number;
  rating: number;
  title: string;
  body: string;
  created_at: string;
}
export interface SeedOrder {
  id: number;
  member_id: number;
  status: string;
  total: string;
  created_at: string;
  updated_at: string;
}
export interface SeedOrderItem {
  id: number;
  order_id: number;
  product_id: number;
  quantity: number;
  unit_price: string;
}
export interface SeedPayment {
  id: number;
  order_id: number;
  amount: string;
  created_at: string;
}
export interface SeedWishlistItem {
  member_id: number;
  product_id: number;
  created_at: string;
}

const data = generateSeedData();

/** What the seed writes, as typed rows. */
export const seed = {
  categories: data.categories as unknown as SeedCategory[],
  products: data.products as unknown as SeedProduct[],
  members: data.members as unknown as SeedMember[],
  orders: data.orders as unknown as SeedOrder[],
  orderItems: data.order_items as unknown as SeedOrderItem[],
  payments: data.payments as unknown as SeedPayment[],
  reviews: data.reviews as unknown as SeedReview[],
  wishlistItems: data.wishlist_items as unknown as SeedWishlistItem[],
};

function byId<T extends { id: number }>(rows: readonly T[], id: number): T {
  const row = rows.find((candidate) => candidate.id === id);
  if (!row) throw new Error(`no seeded row with id ${id}`);
  return row;
}

export const seededProduct = (id: number): SeedProduct => byId(seed.products, id);
export const seededMember = (id: number): SeedMember => byId(seed.members, id);
export const seededOrder = (id: number): SeedOrder => byId(seed.orders, id);

/** Integer cents from "12.34", computed independently of the monolith's own money helpers. */
export function cents(amount: string): number {
  const [whole = '0', fraction = '00'] = amount.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** "12.34" from 1234. */
export function money(value: number): string {
  return `${Math.trunc(value / 100)}.${String(value % 100).padStart(2, '0')}`;
}

/** The rating summary of a product, computed from the seeded reviews (half-up to two places). */
export function expectedRating(
  productId: number,
  reviews: readonly { product_id: number; rating: number }[] = seed.reviews,
): ProductJson['rating'] {
  const ratings = reviews.filter((r) => r.product_id === productId).map((r) => r.rating);
  if (ratings.length === 0) return { average: null, count: 0 };
  const sum = ratings.reduce((a, b) => a + b, 0);
  const hundredths = Math.floor((200 * sum + ratings.length) / (2 * ratings.length));
  return { average: money(hundredths), count: ratings.length };
}

/** A seeded product as the API must render it, given the (unchanged) seeded stock and reviews. */
export function expectedProduct(id: number): ProductJson {
  const product = seededProduct(id);
  const category = byId(seed.categories, product.category_id);
  return {
    id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: { id: category.id, slug: category.slug, name: category.name },
    price: product.price,
    stock: product.stock,
    rating: expectedRating(id),
    createdAt: product.created_at,
    updatedAt: product.updated_at,
  };
}

/** A seeded review as the API must render it. */
export function expectedReview(review: SeedReview): ReviewJson {
  return {
    id: review.id,
    productId: review.product_id,
    member: { id: review.member_id, name: seededMember(review.member_id).name },
    rating: review.rating,
    title: review.title,
    body: review.body,
    createdAt: review.created_at,
  };
}

/** Newest first, ties by the larger id (or product id) first. */
export function newestFirst<T extends { created_at: string }>(
  rows: readonly T[],
  tieBreak: (row: T) => number,
): T[] {
  return [...rows].sort((a, b) =>
    a.created_at === b.created_at
      ? tieBreak(b) - tieBreak(a)
      : a.created_at < b.created_at
        ? 1
        : -1,
  );
}
