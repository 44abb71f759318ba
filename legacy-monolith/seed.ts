import type { Knex } from 'knex';
import { formatCents, toCents } from './money.js';
import { createRandom, type Random } from './random.js';
import {
  ADJECTIVES,
  CATEGORIES,
  COLOURS,
  DESCRIPTION_OPENERS,
  FIRST_NAMES,
  LAST_NAMES,
  REVIEW_SENTENCES,
  REVIEW_TITLES,
} from './seed-words.js';

/** Seed of the PRNG; with {@link SEED_EPOCH} it fixes every generated value. */
const SEED = 20_250_101;
/** Every seeded timestamp is this instant plus an offset, so two runs write the same rows. */
const SEED_EPOCH = Date.UTC(2025, 0, 1);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const PRODUCT_COUNT = 300;
const MEMBER_COUNT = 40;
const ORDER_COUNT = 250;
const REVIEW_COUNT = 800;
const BATCH_SIZE = 200;
/** Serialises concurrent seeders (two processes starting on one fresh database). */
const SEED_LOCK_KEY = 7_245_883_401;

type Row = Record<string, string | number>;

/** Every row the seed writes, table by table, in insertion order. */
export interface SeedData {
  readonly categories: Row[];
  readonly products: Row[];
  readonly members: Row[];
  readonly orders: Row[];
  readonly order_items: Row[];
  readonly payments: Row[];
  readonly reviews: Row[];
  readonly wishlist_items: Row[];
}

/** Tables in foreign-key order; all but `wishlist_items` have a serial `id`. */
const TABLES = [
  'categories',
  'products',
  'members',
  'orders',
  'order_items',
  'payments',
  'reviews',
  'wishlist_items',
] as const satisfies readonly (keyof SeedData)[];

const at = (offsetMs: number): string => new Date(SEED_EPOCH + offsetMs).toISOString();

/**
 * Builds the demo data set: 8 categories, 300 products, 40 members, 250 historical orders with
 * items and payments, 800 reviews and some wishlist entries. A pure function of the constants
 * above: no clock, no `Math.random()`.
 */
export function generateSeedData(): SeedData {
  const random = createRandom(SEED);
  const categories = CATEGORIES.map((category, index) => ({
    id: index + 1,
    slug: category.slug,
    name: category.name,
  }));
  const products = generateProducts(random);
  const members = generateMembers(random);
  const { orders, orderItems, payments } = generateOrders(random, products);
  const reviews = generateReviews(random);
  const wishlistItems = generateWishlists(random);
  return {
    categories,
    products,
    members,
    orders,
    order_items: orderItems,
    payments,
    reviews,
    wishlist_items: wishlistItems,
  };
}

function generateProducts(random: Random): Row[] {
  const products: Row[] = [];
  for (let id = 1; id <= PRODUCT_COUNT; id++) {
    const categoryIndex = (id - 1) % CATEGORIES.length;
    const category = CATEGORIES[categoryIndex];
    if (!category) throw new RangeError(`no category at ${categoryIndex}`);
    const adjective = random.pick(ADJECTIVES);
    const colour = random.pick(COLOURS);
    const noun = random.pick(category.nouns);
    const opener = fillTemplate(random.pick(DESCRIPTION_OPENERS), {
      adjective: toLowerWord(adjective),
      colour: toLowerWord(colour),
      noun: toLowerWord(noun),
    });
    const [minDollars, maxDollars] = category.dollars;
    const cents = random.int(minDollars, maxDollars) * 100 + random.pick([99, 49, 95, 0, 50]);
    // A few products are sold out and a few have exactly one left, for the checkout demo.
    const stock = id % 29 === 0 ? 0 : id % 31 === 7 ? 1 : random.int(2, 200);
    const created = (id - 1) * 3 * HOUR + random.int(0, 59) * MINUTE;
    const updated = random.chance(0.5) ? created : created + random.int(1, 40) * DAY;
    products.push({
      id,
      sku: `${category.skuPrefix}-${String(id).padStart(4, '0')}`,
      name: `${adjective} ${colour} ${noun}`,
      description: `${opener} ${random.pick(category.features)}`,
      category_id: categoryIndex + 1,
      price: formatCents(cents),
      stock,
      created_at: at(created),
      updated_at: at(updated),
    });
  }
  return products;
}

/** Lower-cases a capitalised word ("Dutch Oven" → "dutch oven") but keeps acronyms ("USB-C"). */
function toLowerWord(phrase: string): string {
  return phrase
    .split(' ')
    .map((word) =>
      word.split('-').every((part) => /^[A-Z][a-z]+$/.test(part)) ? word.toLowerCase() : word,
    )
    .join(' ');
}

/** Fills `{name}`, `{a name}` and `{A name}` placeholders; the article follows the word's first letter. */
function fillTemplate(template: string, words: Record<string, string>): string {
  return template.replace(
    /\{(?:(a|A) )?(\w+)\}/g,
    (_match, article: string | undefined, key: string) => {
      const word = words[key] ?? '';
      if (article === undefined) return word;
      const lower = /^[aeiou]/i.test(word) ? 'an' : 'a';
      return `${article === 'A' ? lower.replace('a', 'A') : lower} ${word}`;
    },
  );
}

function generateMembers(random: Random): Row[] {
  const members: Row[] = [];
  for (let id = 1; id <= MEMBER_COUNT; id++) {
    const first = FIRST_NAMES[(id - 1) % FIRST_NAMES.length] ?? 'Member';
    const last = random.pick(LAST_NAMES);
    const created = (id - 1) * 19 * HOUR + random.int(0, 59) * MINUTE;
    members.push({
      id,
      email: `${first}.${last}.${id}@example.com`.toLowerCase(),
      name: `${first} ${last}`,
      // Every 13th member has spent everything, for the insufficient-balance demo.
      balance: id % 13 === 0 ? '0.00' : formatCents(random.int(2_000, 250_000)),
      created_at: at(created),
      updated_at: at(created + random.int(0, 30) * DAY),
    });
  }
  return members;
}

function generateOrders(
  random: Random,
  products: readonly Row[],
): { orders: Row[]; orderItems: Row[]; payments: Row[] } {
  const orders: Row[] = [];
  const orderItems: Row[] = [];
  const payments: Row[] = [];
  let time = 45 * DAY;
  for (let id = 1; id <= ORDER_COUNT; id++) {
    time += random.int(20, 900) * MINUTE + random.int(0, 59_999);
    const memberId = random.int(1, MEMBER_COUNT);
    const productIds = new Set<number>();
    const lineCount = random.int(1, 4);
    while (productIds.size < lineCount) productIds.add(random.int(1, PRODUCT_COUNT));
    let totalCents = 0;
    for (const productId of productIds) {
      const price = products[productId - 1]?.price;
      if (typeof price !== 'string') throw new RangeError(`no product ${productId}`);
      const quantity = random.int(1, 3);
      totalCents += toCents(price) * quantity;
      orderItems.push({
        id: orderItems.length + 1,
        order_id: id,
        product_id: productId,
        quantity,
        unit_price: price,
      });
    }
    const cancelled = random.chance(0.06);
    const total = formatCents(totalCents);
    orders.push({
      id,
      member_id: memberId,
      status: cancelled ? 'cancelled' : 'paid',
      total,
      created_at: at(time),
      updated_at: at(cancelled ? time + random.int(1, 48) * HOUR : time),
    });
    if (!cancelled) {
      payments.push({
        id: payments.length + 1,
        order_id: id,
        member_id: memberId,
        amount: total,
        method: 'balance',
        status: 'captured',
        created_at: at(time),
      });
    }
  }
  return { orders, orderItems, payments };
}

/** Ratings lean positive, as they do in real shops: 5 %, 8 %, 17 %, 35 %, 35 %. */
function pickRating(random: Random): number {
  const roll = random.next();
  if (roll < 0.05) return 1;
  if (roll < 0.13) return 2;
  if (roll < 0.3) return 3;
  if (roll < 0.65) return 4;
  return 5;
}

function generateReviews(random: Random): Row[] {
  // Every tenth product (3, 13, 23, …) has no reviews, so its rating average is null.
  const reviewable: number[] = [];
  for (let id = 1; id <= PRODUCT_COUNT; id++) if (id % 10 !== 3) reviewable.push(id);
  const drafts = Array.from({ length: REVIEW_COUNT }, () => {
    const rating = pickRating(random);
    const sentences = REVIEW_SENTENCES[rating - 1] ?? [];
    const first = random.int(0, sentences.length - 1);
    const second = (first + random.int(1, sentences.length - 1)) % sentences.length;
    return {
      product_id: random.pick(reviewable),
      member_id: random.int(1, MEMBER_COUNT),
      rating,
      title: random.pick(REVIEW_TITLES[rating - 1] ?? []),
      body: `${sentences[first] ?? ''} ${sentences[second] ?? ''}`,
      offset: 40 * DAY + random.int(0, 160 * 24 * 60) * MINUTE,
    };
  });
  // Ids grow with time, as they would have when the reviews were written.
  drafts.sort((a, b) => a.offset - b.offset);
  return drafts.map(({ offset, ...review }, index) => ({
    id: index + 1,
    ...review,
    created_at: at(offset),
  }));
}

function generateWishlists(random: Random): Row[] {
  const items: Row[] = [];
  for (let memberId = 1; memberId <= MEMBER_COUNT; memberId++) {
    const productIds = new Set<number>();
    const count = random.int(0, 6);
    while (productIds.size < count) productIds.add(random.int(1, PRODUCT_COUNT));
    for (const productId of productIds) {
      items.push({
        member_id: memberId,
        product_id: productId,
        created_at: at(150 * DAY + random.int(0, 30 * 24 * 60) * MINUTE),
      });
    }
  }
  return items;
}

/**
 * Writes {@link generateSeedData} into a migrated database that has no products yet, in one
 * transaction, and moves the id sequences past the seeded ids so later inserts work. Returns
 * false, writing nothing, when products already exist: restarting the demo on an existing data
 * directory keeps its data.
 */
export async function seedLegacyDatabase(db: Knex): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [SEED_LOCK_KEY]);
    const existing = await trx('products').first<{ id: number } | undefined>('id');
    if (existing) return false;
    const data = generateSeedData();
    for (const table of TABLES) {
      const rows = data[table];
      for (let start = 0; start < rows.length; start += BATCH_SIZE) {
        await trx(table).insert(rows.slice(start, start + BATCH_SIZE));
      }
      if (table !== 'wishlist_items') {
        await trx.raw(`select setval(pg_get_serial_sequence(?, 'id'), (select max(id) from ??))`, [
          table,
          table,
        ]);
      }
    }
    return true;
  });
}
