/** Shadow mismatches keep the request path, but not secrets carried in its query string. */
import { describe, expect, it } from 'vitest';
import { redactQuery } from '../../gateway/server.js';

describe('redactQuery', () => {
  it.each([
    ['/products', '/products'],
    ['/products?page=2&pageSize=20', '/products?page=2&pageSize=20'],
    ['/cb?code=abc&state=xyz', '/cb?code=REDACTED&state=xyz'],
    ['/x?access_token=SECRET123', '/x?access_token=REDACTED'],
    ['/x?api%5Fkey=k&q=shoes', '/x?api%5Fkey=REDACTED&q=shoes'],
    ['/s3?X-Amz-Signature=ff&sig=1', '/s3?X-Amz-Signature=REDACTED&sig=REDACTED'],
    ['/login?password=hunter2&remember', '/login?password=REDACTED&remember'],
    ['/p?flag', '/p?flag'],
  ])('%s → %s', (url, expected) => {
    expect(redactQuery(url)).toBe(expected);
  });
});
