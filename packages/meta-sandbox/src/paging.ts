// Graph API cursor paging: {data, paging: {cursors: {before, after}, next?, previous?}}, with
// `next` a full URL on this server while more items remain, and `fields` selection on nodes.
import { invalidParameter } from './errors.js';
import type { MetaRequest } from './request.js';
import { param } from './request.js';

const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 100;

const cursorOf = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
const idOf = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8');

export function paged(
  req: MetaRequest,
  items: Array<{ id: string } & Record<string, unknown>>,
): Record<string, unknown> {
  const limitText = param(req, 'limit');
  const asked = limitText === undefined ? DEFAULT_LIMIT : Number.parseInt(limitText, 10);
  const limit = Number.isFinite(asked) && asked > 0 ? Math.min(asked, MAX_LIMIT) : DEFAULT_LIMIT;
  const after = param(req, 'after');
  const before = param(req, 'before');
  let start = 0;
  if (after !== undefined) {
    const index = items.findIndex((item) => item.id === idOf(after));
    start = index >= 0 ? index + 1 : items.length;
  } else if (before !== undefined) {
    const index = items.findIndex((item) => item.id === idOf(before));
    start = Math.max(0, (index >= 0 ? index : 0) - limit);
  }
  const data = items.slice(start, start + limit);
  if (data.length === 0) return { data };
  const first = data[0]!;
  const last = data[data.length - 1]!;
  const paging: Record<string, unknown> = { cursors: { before: cursorOf(first.id), after: cursorOf(last.id) } };
  if (start + limit < items.length) paging.next = linkTo(req, limit, { after: cursorOf(last.id) });
  if (start > 0) paging.previous = linkTo(req, limit, { before: cursorOf(first.id) });
  return { data, paging };
}

/** Like Meta's, the link repeats the request's query (access_token included when it came that way). */
function linkTo(req: MetaRequest, limit: number, cursor: { after?: string; before?: string }): string {
  const url = new URL(`${req.publicUrl}${req.ctx.path}`);
  for (const [key, value] of Object.entries(req.ctx.query)) {
    if (key === 'after' || key === 'before' || key === 'limit') continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) url.searchParams.set(key, first);
  }
  url.searchParams.set('limit', String(limit));
  if (cursor.after) url.searchParams.set('after', cursor.after);
  if (cursor.before) url.searchParams.set('before', cursor.before);
  return url.toString();
}

/**
 * Picks the requested `fields` (Meta's `fields=a,b,throughput{level}`), or the node's default set.
 * `id` always comes back, as on Meta.
 */
export function selectFields(
  req: MetaRequest,
  node: Record<string, unknown>,
  defaults: readonly string[],
  nodeType: string,
): { id: string } & Record<string, unknown> {
  const requested = param(req, 'fields');
  const names = requested
    ? requested
        .replace(/\{[^}]*\}/g, '')
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : [...defaults];
  const out: Record<string, unknown> = { id: node.id };
  for (const name of names) {
    if (!(name in node))
      throw invalidParameter(`Tried accessing nonexisting field (${name}) on node type (${nodeType})`);
    out[name] = node[name];
  }
  return out as { id: string } & Record<string, unknown>;
}
