/**
 * The JSON the monolith answers with, in one place. Extracted services must reproduce these
 * shapes byte for byte, so the rules are fixed:
 *
 * - keys appear in the order written here (object literals, never spreads of database rows);
 * - ids are integers; money is a decimal string with exactly two places ("19.99"), exactly as
 *   Postgres renders `numeric(p,2)`;
 * - timestamps are ISO-8601 UTC strings with milliseconds ("2025-01-01T00:00:00.000Z"); the
 *   columns are `timestamptz(3)`, so no precision is lost on the way;
 * - a product's `rating.average` is the mean of its review ratings rounded half away from zero to
 *   two places (Postgres `round(avg(rating), 2)`), `null` when it has no reviews.
 */

/** A row of the product query in `queries.ts`: product, category and rating summary. */
export interface ProductRow {
  id: number;
  sku: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
  category_id: number;
  category_slug: string;
  category_name: string;
  rating_average: string | null;
  rating_count: number;
}

/** `GET /products/:id` and every other place a product appears. */
export interface ProductJson {
  id: number;
  sku: string;
  name: string;
  description: string;
  category: { id: number; slug: string; name: string };
  price: string;
  stock: number;
  rating: { average: string | null; count: number };
  createdAt: string;
  updatedAt: string;
}

/** Renders a product row. */
export function serializeProduct(row: ProductRow): ProductJson {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    category: { id: row.category_id, slug: row.category_slug, name: row.category_name },
    price: row.price,
    stock: row.stock,
    rating: { average: row.rating_average, count: row.rating_count },
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** A row of `categories`. */
export interface CategoryRow {
  id: number;
  slug: string;
  name: string;
}

/** An entry of `GET /categories`. */
export interface CategoryJson {
  id: number;
  name: string;
  slug: string;
}

/** Renders a category row. */
export function serializeCategory(row: CategoryRow): CategoryJson {
  return { id: row.id, name: row.name, slug: row.slug };
}

/** A review joined with the name of the member who wrote it. */
export interface ReviewRow {
  id: number;
  product_id: number;
  member_id: number;
  member_name: string;
  rating: number;
  title: string;
  body: string;
  created_at: Date;
}

/** An entry of `GET /products/:id/reviews`, and the body of `POST /products/:id/reviews`. */
export interface ReviewJson {
  id: number;
  productId: number;
  member: { id: number; name: string };
  rating: number;
  title: string;
  body: string;
  createdAt: string;
}

/** Renders a review row. */
export function serializeReview(row: ReviewRow): ReviewJson {
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

/** The columns of `members` the API shows. */
export interface MemberRow {
  id: number;
  email: string;
  name: string;
  balance: string;
  created_at: Date;
}

/** `GET /members/:id`. */
export interface MemberJson {
  id: number;
  email: string;
  name: string;
  balance: string;
  createdAt: string;
}

/** Renders a member row. */
export function serializeMember(row: MemberRow): MemberJson {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    balance: row.balance,
    createdAt: row.created_at.toISOString(),
  };
}

/** An entry of `GET /members/:id/wishlist`, and the body of `POST /members/:id/wishlist`. */
export interface WishlistEntryJson {
  product: ProductJson;
  addedAt: string;
}

/** Renders a wishlist entry: the product as everywhere else, and when it was added. */
export function serializeWishlistEntry(row: ProductRow & { added_at: Date }): WishlistEntryJson {
  return { product: serializeProduct(row), addedAt: row.added_at.toISOString() };
}

/** A row of `orders`. */
export interface OrderRow {
  id: number;
  member_id: number;
  status: OrderStatus;
  total: string;
  created_at: Date;
  updated_at: Date;
}

/** The lifecycle of an order: every successful checkout goes `placed` → `paid` in one transaction. */
export type OrderStatus = 'placed' | 'paid' | 'cancelled';

/** An order item joined with the product's current name; `line_total` is `quantity * unit_price`. */
export interface OrderItemRow {
  order_id: number;
  product_id: number;
  name: string;
  quantity: number;
  unit_price: string;
  line_total: string;
}

/** A row of `payments`. */
export interface PaymentRow {
  id: number;
  order_id: number;
  amount: string;
  method: 'balance';
  status: 'captured';
  created_at: Date;
}

/** `GET /orders/:id`, the body of `POST /orders`, and an entry of `GET /members/:id/orders`. */
export interface OrderJson {
  id: number;
  memberId: number;
  status: OrderStatus;
  total: string;
  items: {
    productId: number;
    name: string;
    quantity: number;
    unitPrice: string;
    lineTotal: string;
  }[];
  payment: {
    id: number;
    amount: string;
    method: 'balance';
    status: 'captured';
    createdAt: string;
  } | null;
  createdAt: string;
  updatedAt: string;
}

/** Renders an order with its items (in the order they were placed) and its payment, if any. */
export function serializeOrder(
  order: OrderRow,
  items: readonly OrderItemRow[],
  payment: PaymentRow | undefined,
): OrderJson {
  return {
    id: order.id,
    memberId: order.member_id,
    status: order.status,
    total: order.total,
    items: items.map((item) => ({
      productId: item.product_id,
      name: item.name,
      quantity: item.quantity,
      unitPrice: item.unit_price,
      lineTotal: item.line_total,
    })),
    payment: payment
      ? {
          id: payment.id,
          amount: payment.amount,
          method: payment.method,
          status: payment.status,
          createdAt: payment.created_at.toISOString(),
        }
      : null,
    createdAt: order.created_at.toISOString(),
    updatedAt: order.updated_at.toISOString(),
  };
}

/** Every paginated list: the page of items, the page asked for, and the total across pages. */
export interface PageJson<Item> {
  items: Item[];
  page: number;
  pageSize: number;
  total: number;
}

/** Wraps a page of items in the list envelope. */
export function serializePage<Item>(
  items: Item[],
  pagination: { page: number; pageSize: number },
  total: number,
): PageJson<Item> {
  return { items, page: pagination.page, pageSize: pagination.pageSize, total };
}
