// Inbound media served back: to the business (GET /api/integrations/whatsapp/media/{id}, its own media
// only) and to whoever holds a short-lived signed URL (GET /api/media/{id}?expires=..&sig=.., handed to
// the AI brain). The stored type and size are sent as stored, never sniffed.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { checkMediaSignature } from '../media/signed-url.js';
import { mediaStorageFromConfig, type MediaStorage } from '../media/storage.js';
import { mediaById, mediaOfBusiness } from '../store/media.js';
import type { MediaRow } from '../store/tables.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { dashboardCors } from './cors.js';
import { HttpError } from './errors.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

const notFound = () => new HttpError(404, 'not_found', 'No such media.');

const mediaPath = {
  params: { id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) },
  refuse: { params: notFound },
};
const signedQuery = z.object({
  expires: z.coerce.number().int().positive(),
  sig: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
});
const notSigned = () => new HttpError(403, 'invalid_signature', 'The media URL is not signed.');

/** An ASCII fallback and the UTF-8 original, both without quotes, separators or control characters. */
function contentDisposition(kind: string, filename: string | null): string {
  if (kind !== 'document') return 'inline';
  const kept = Array.from(filename ?? '').filter((c) => c >= ' ' && c !== '\u007f' && !'"\\/'.includes(c));
  const cleaned = kept.slice(0, 200).join('').trim() || 'document';
  const ascii = cleaned.replace(/[^A-Za-z0-9._ -]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(cleaned)}`;
}

async function serve(ctx: Context, storage: MediaStorage, row: MediaRow | undefined): Promise<void> {
  if (!row) throw notFound();
  if (row.state !== 'stored' || !row.storage_key)
    throw new HttpError(
      404,
      'media_unavailable',
      `This media is ${row.state === 'failed' ? 'not stored' : 'not stored yet'}.`,
    );
  const object = await storage.get(row.storage_key);
  if (!object) throw new HttpError(404, 'media_unavailable', 'This media is no longer stored.');
  ctx.status = 200;
  ctx.set('Content-Type', row.mime_type ?? 'application/octet-stream');
  ctx.set('Content-Length', String(object.size));
  ctx.set('Content-Disposition', contentDisposition(row.kind, row.filename));
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
  ctx.set('Cache-Control', 'private, no-store');
  ctx.body = object.body;
}

export function mediaRoutes(deps: AppDeps): Router<AppState>[] {
  const storage = mediaStorageFromConfig(deps.config.media);
  const tenant = new Router<AppState>({ prefix: '/api/integrations/whatsapp/media' });
  tenant.use(dashboardCors(deps.config));
  tenant.get(
    '/:id',
    requireBusiness(deps.config),
    deps.limits.reads,
    validate(mediaPath, async (ctx) => {
      await serve(ctx, storage, await mediaOfBusiness(deps.db, businessOf(ctx), ctx.state.input.params.id));
    }),
  );

  const signed = new Router<AppState>({ prefix: '/api/media' });
  signed.get(
    '/:id',
    validate({ ...mediaPath, query: signedQuery, refuse: { ...mediaPath.refuse, query: notSigned } }, async (ctx) => {
      const { params, query } = ctx.state.input;
      const check = checkMediaSignature(deps.config, params.id, query.expires, query.sig);
      if (check === 'invalid') throw new HttpError(403, 'invalid_signature', 'The media URL signature is not valid.');
      if (check === 'expired') throw new HttpError(403, 'url_expired', 'The media URL has expired.');
      await serve(ctx, storage, await mediaById(deps.db, params.id));
    }),
  );
  return [tenant, signed];
}
