/**
 * "Your monolith" in the guides' tests: a small library-lending app (express + pg) on a database
 * of its own. It is not ficus's reference monolith; it stands for an app a reader already runs.
 *
 *   GET  /books?limit=&offset=   books by id (limit 1–100, default 20)
 *   GET  /books/:id              one book; 400 for a bad id, 404 { "error": "book not found" }
 *   POST /loans                  { bookId, borrower } → 201 the loan; 409 when the book is out
 *   POST /loans/:id/return       → 200 the loan; 404 unknown, 409 already returned
 *   GET  /health                 { "status": "ok" }
 *
 * A book is serialised as `JSON.stringify({ id, isbn, title, author: { id, name }, publishedOn,
 * price })`, keys in that order, no spaces (express's `res.json`), from {@link BOOK_SELECT}:
 * `publishedOn` is `to_char(published_on, 'YYYY-MM-DD')` or null, `price` is `price::text` (the
 * numeric(8,2) as Postgres prints it, "12.50"). A service that carries `books` and `authors`
 * answers `GET /books/:id` byte for byte alike by doing the same.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import pg from 'pg';

/** A book as the API answers it. */
export interface Book {
  id: number;
  isbn: string;
  title: string;
  author: { id: number; name: string };
  publishedOn: string | null;
  price: string;
}

/** The columns behind {@link Book}; append a WHERE or ORDER BY. */
export const BOOK_SELECT = `SELECT b.id, b.isbn, b.title, a.id AS author_id, a.name AS author_name,
       to_char(b.published_on, 'YYYY-MM-DD') AS published_on, b.price::text AS price
  FROM books b JOIN authors a ON a.id = b.author_id`;

/** A row of {@link BOOK_SELECT}. */
export interface BookRow {
  id: number;
  isbn: string;
  title: string;
  author_id: number;
  author_name: string;
  published_on: string | null;
  price: string;
}

/** Turns a {@link BOOK_SELECT} row into the API's book. */
export function toBook(row: BookRow): Book {
  return {
    id: row.id,
    isbn: row.isbn,
    title: row.title,
    author: { id: row.author_id, name: row.author_name },
    publishedOn: row.published_on,
    price: row.price,
  };
}

/**
 * Creates the tables and seeds them, the same on every run: 5 authors, 40 books (every 7th
 * without a publication date), 3 loans (books 1 and 3 out, book 2 returned).
 */
export async function createLibrarySchema(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL);
      CREATE TABLE books (
        id serial PRIMARY KEY, isbn text NOT NULL UNIQUE, title text NOT NULL,
        author_id int NOT NULL REFERENCES authors, published_on date,
        price numeric(8,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE loans (
        id serial PRIMARY KEY, book_id int NOT NULL REFERENCES books, borrower text NOT NULL,
        lent_at timestamptz NOT NULL DEFAULT now(), returned_at timestamptz);
      CREATE UNIQUE INDEX loans_one_open_per_book ON loans (book_id) WHERE returned_at IS NULL;
      INSERT INTO authors (name) VALUES
        ('Ursula K. Le Guin'), ('Octavia E. Butler'), ('Stanisław Lem'), ('Italo Calvino'),
        ('Toni Morrison');
      INSERT INTO books (isbn, title, author_id, published_on, price)
        SELECT format('978-0-%s', lpad(n::text, 6, '0')),
               (ARRAY['The Quiet', 'A Distant', 'The Last', 'Invisible', 'The Left'])[1 + n % 5]
                 || ' ' || (ARRAY['River', 'Archive', 'City', 'Hand', 'Garden', 'Star', 'Song',
                                  'Harbour'])[1 + n % 8],
               1 + (n - 1) % 5,
               CASE WHEN n % 7 = 0 THEN NULL ELSE date '1960-01-01' + n * 431 END,
               5 + (n * 37) % 40 + (n % 4) * 0.25
          FROM generate_series(1, 40) AS n;
      INSERT INTO loans (book_id, borrower, lent_at, returned_at) VALUES
        (1, 'Ada Lovelace', '2025-01-06T10:00:00Z', NULL),
        (2, 'Alan Turing', '2025-01-07T11:30:00Z', '2025-01-20T09:15:00Z'),
        (3, 'Grace Hopper', '2025-02-01T16:45:00Z', NULL);
    `);
  } finally {
    await client.end();
  }
}

/** A running library app. */
export interface LibraryApp {
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const LOAN_COLUMNS =
  'id, book_id AS "bookId", borrower, lent_at AS "lentAt", returned_at AS "returnedAt"';

function positiveId(value: unknown, what: string): number {
  const id = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1)
    throw new HttpError(400, `${what} must be a positive integer`);
  return id;
}

function boundedInt(value: unknown, fallback: number, min: number, max: number, what: string) {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new HttpError(400, `${what} must be from ${min} to ${max}`);
  return n;
}

/** Starts the app on `host:port` (default 127.0.0.1, a free port). */
export async function startLibraryApp(options: {
  databaseUrl: string;
  port?: number;
  host?: string;
}): Promise<LibraryApp> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 5 });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json());

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/books', async (req, res) => {
    const limit = boundedInt(req.query.limit, 20, 1, 100, 'limit');
    const offset = boundedInt(req.query.offset, 0, 0, 1_000_000, 'offset');
    const { rows } = await pool.query<BookRow>(`${BOOK_SELECT} ORDER BY b.id LIMIT $1 OFFSET $2`, [
      limit,
      offset,
    ]);
    res.json(rows.map(toBook));
  });
  app.get('/books/:id', async (req, res) => {
    const id = positiveId(req.params.id, 'book id');
    const { rows } = await pool.query<BookRow>(`${BOOK_SELECT} WHERE b.id = $1`, [id]);
    if (!rows[0]) throw new HttpError(404, 'book not found');
    res.json(toBook(rows[0]));
  });
  app.post('/loans', async (req, res) => {
    const body = (req.body ?? {}) as { bookId?: unknown; borrower?: unknown };
    const bookId = positiveId(body.bookId, 'bookId');
    if (typeof body.borrower !== 'string' || body.borrower.trim() === '')
      throw new HttpError(400, 'borrower must be a non-empty string');
    const { rows } = await pool
      .query(`INSERT INTO loans (book_id, borrower) VALUES ($1, $2) RETURNING ${LOAN_COLUMNS}`, [
        bookId,
        body.borrower,
      ])
      .catch((error: { code?: string }) => {
        if (error.code === '23503') throw new HttpError(404, 'book not found');
        if (error.code === '23505') throw new HttpError(409, 'book is already lent');
        throw error;
      });
    res.status(201).json(rows[0]);
  });
  app.post('/loans/:id/return', async (req, res) => {
    const id = positiveId(req.params.id, 'loan id');
    const { rows } = await pool.query(
      `UPDATE loans SET returned_at = now() WHERE id = $1 AND returned_at IS NULL
       RETURNING ${LOAN_COLUMNS}`,
      [id],
    );
    if (rows[0]) {
      res.json(rows[0]);
      return;
    }
    const known = await pool.query('SELECT 1 FROM loans WHERE id = $1', [id]);
    throw new HttpError(
      known.rowCount ? 409 : 404,
      known.rowCount ? 'loan is already returned' : 'loan not found',
    );
  });
  app.use(() => {
    throw new HttpError(404, 'not found');
  });
  const handleErrors: ErrorRequestHandler = (error, _req, res, _next) => {
    const status =
      error instanceof HttpError
        ? error.status
        : (error as { status?: number }).status === 400
          ? 400
          : 500;
    const message =
      error instanceof HttpError
        ? error.message
        : status === 400
          ? 'invalid JSON'
          : 'internal error';
    res.status(status).json({ error: message });
  };
  app.use(handleErrors);

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, options.host ?? '127.0.0.1', (error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await pool.end();
    },
  };
}
