/**
 * Differences for people: a side-by-side line diff of two response bodies, and what changed
 * between two versions of the route table.
 */

/** JSON with sorted keys, pretty-printed (the gateway compares JSON with key order aside). */
export function prettyBody(text) {
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)), null, 2);
  } catch {
    return text;
  }
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

const MAX_CELLS = 4_000_000;

/**
 * Aligns the lines of `left` and `right` by their longest common subsequence. Returns rows
 * `{ left, right, kind }` with kind `same`, `changed`, `removed` (left only) or `added` (right
 * only). Inputs too large for the quadratic table are compared line by line.
 */
export function sideBySide(left, right) {
  const a = left.split('\n');
  const b = right.split('\n');
  if (a.length * b.length > MAX_CELLS) {
    const rows = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const l = a[i];
      const r = b[i];
      rows.push({
        left: l ?? null,
        right: r ?? null,
        kind:
          l === r ? 'same' : l === undefined ? 'added' : r === undefined ? 'removed' : 'changed',
      });
    }
    return rows;
  }
  const n = a.length;
  const m = b.length;
  const lengths = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i * (m + 1) + j] =
        a[i] === b[j]
          ? lengths[(i + 1) * (m + 1) + j + 1] + 1
          : Math.max(lengths[(i + 1) * (m + 1) + j], lengths[i * (m + 1) + j + 1]);
    }
  }
  const raw = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      raw.push({ left: a[i++], right: b[j++], kind: 'same' });
    } else if (lengths[(i + 1) * (m + 1) + j] >= lengths[i * (m + 1) + j + 1]) {
      raw.push({ left: a[i++], right: null, kind: 'removed' });
    } else {
      raw.push({ left: null, right: b[j++], kind: 'added' });
    }
  }
  while (i < n) raw.push({ left: a[i++], right: null, kind: 'removed' });
  while (j < m) raw.push({ left: null, right: b[j++], kind: 'added' });
  // Pair a run of removals with the additions that follow it, so a changed line sits beside its
  // counterpart.
  const rows = [];
  for (let k = 0; k < raw.length;) {
    if (raw[k].kind !== 'removed') {
      rows.push(raw[k++]);
      continue;
    }
    const removed = [];
    while (k < raw.length && raw[k].kind === 'removed') removed.push(raw[k++].left);
    const added = [];
    while (k < raw.length && raw[k].kind === 'added') added.push(raw[k++].right);
    for (let x = 0; x < Math.max(removed.length, added.length); x++) {
      const l = removed[x] ?? null;
      const r = added[x] ?? null;
      rows.push({
        left: l,
        right: r,
        kind: l === null ? 'added' : r === null ? 'removed' : 'changed',
      });
    }
  }
  return rows;
}

const ROUTE_FIELDS = [
  'mode',
  'weight',
  'service',
  'path',
  'methods',
  'header',
  'cookie',
  'sticky',
  'fallback',
  'timeoutMs',
  'guard',
  'shadow',
];

/** What changed from table `before` to table `after`, as sentences. */
export function tableChanges(before, after) {
  if (!before) return ['first version'];
  const changes = [];
  if (before.legacy !== after.legacy)
    changes.push(`monolith URL ${before.legacy} → ${after.legacy}`);
  const services = new Set([...Object.keys(before.services), ...Object.keys(after.services)]);
  for (const name of services) {
    const was = before.services[name];
    const is = after.services[name];
    if (was === is) continue;
    if (was === undefined) changes.push(`service ${name} added (${is})`);
    else if (is === undefined) changes.push(`service ${name} removed`);
    else changes.push(`service ${name}: ${was} → ${is}`);
  }
  const old = new Map(before.routes.map((route) => [route.id, route]));
  for (const route of after.routes) {
    const previous = old.get(route.id);
    old.delete(route.id);
    if (!previous) {
      changes.push(`route ${route.id} added (${route.mode})`);
      continue;
    }
    for (const field of ROUTE_FIELDS) {
      const was = JSON.stringify(previous[field]);
      const is = JSON.stringify(route[field]);
      if (was !== is) changes.push(`${route.id}: ${field} ${was ?? 'unset'} → ${is ?? 'unset'}`);
    }
  }
  for (const id of old.keys()) changes.push(`route ${id} removed`);
  const order = (table) => table.routes.map((route) => route.id).join(',');
  if (changes.length === 0 && order(before) !== order(after)) changes.push('routes reordered');
  return changes.length ? changes : ['no change to the table'];
}
