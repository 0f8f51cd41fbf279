// /api/webhooks/whatsapp: Meta's verification handshake and its signed event deliveries.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { constantTimeEqual } from '../crypto.js';
import { isWellFormedSignature, SIGNATURE_HEADER, verifySignature } from '../meta/signature.js';
import { parseWebhook } from '../meta/webhook-payload.js';
import { acceptWebhook } from '../services/webhooks.js';
import type { AppDeps } from './app.js';
import { parseJson, readBudgetedBody, type BodyLease } from './body.js';
import { HttpError } from './errors.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

/** Meta documents 3 MB as its largest webhook payload; a valid batch must never get 413. */
const WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024;
const MAX_CHALLENGE_LENGTH = 256;

const verificationFailed = () => new HttpError(403, 'verification_failed', 'Webhook verification failed.');
/** Meta's handshake: a subscribe with our token, answered with its challenge. */
const verification = {
  query: z.object({
    'hub.mode': z.literal('subscribe'),
    'hub.verify_token': z.string(),
    'hub.challenge': z.string().max(MAX_CHALLENGE_LENGTH),
  }),
  refuse: { query: verificationFailed },
};

export function webhookRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/webhooks/whatsapp' });

  router.get(
    '/',
    validate(verification, (ctx) => {
      const query = ctx.state.input.query;
      if (!constantTimeEqual(query['hub.verify_token'], deps.config.whatsapp.verifyToken)) throw verificationFailed();
      ctx.type = 'text/plain';
      ctx.body = query['hub.challenge'];
    }),
  );

  const reject = (reason: string) => deps.metrics.webhooks.inc({ outcome: 'rejected', reason });

  /** A delivery whose signature header is well formed: read (under the budget), verify, store. */
  const receive = async (ctx: Context, signature: string, lease: BodyLease) => {
    let chunks: Buffer[];
    try {
      chunks = await readBudgetedBody(ctx, WEBHOOK_BODY_LIMIT, deps.webhookBudget, lease);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 0;
      reject(status === 413 ? 'size' : status === 503 ? 'overloaded' : 'body');
      throw error;
    }
    // Nothing is parsed before the signature over the exact bytes checks out.
    if (!verifySignature(chunks, signature, deps.config.whatsapp.appSecrets)) {
      reject('signature');
      throw new HttpError(401, 'invalid_signature', 'Missing or invalid X-Hub-Signature-256.');
    }
    let body: unknown;
    try {
      body = parseJson(Buffer.concat(chunks.splice(0)));
    } catch (error) {
      reject('json');
      throw error;
    }
    const parsed = parseWebhook(body);
    if (parsed.skipped.length > 0)
      ctx.state.log.info(
        { skipped: parsed.skipped.slice(0, 10), skippedCount: parsed.skipped.length },
        'webhook parts not handled',
      );
    // Meta's errors for a number as a whole: their codes only, since titles and details may quote
    // the request (phone numbers included). The full items are stored with the delivery.
    const changeErrors = parsed.changeErrors ?? [];
    if (changeErrors.length > 0)
      ctx.state.log.warn(
        { errorCodes: [...new Set(changeErrors.map((e) => e.error.code))].slice(0, 10), count: changeErrors.length },
        'Meta reported errors for a number',
      );
    // 200 only after the commit; PostgreSQL away means 503 and Meta delivers again.
    try {
      const accepted = await acceptWebhook({ ...deps, log: ctx.state.log }, parsed);
      ctx.state.log.debug(
        {
          stored: accepted.stored,
          duplicates: accepted.duplicates,
          statuses: accepted.statuses,
          rejected: accepted.rejected,
        },
        'webhook accepted',
      );
      if (accepted.rejected > 0) deps.metrics.webhookItems.inc({ kind: 'rejected' }, accepted.rejected);
    } catch (error) {
      reject('database_unavailable');
      ctx.state.log.warn({ err: (error as Error).message }, 'webhook intake failed');
      throw new HttpError(503, 'database_unavailable', 'The webhook could not be stored; deliver it again.');
    }
    deps.metrics.webhooks.inc({
      outcome: 'accepted',
      reason:
        parsed.messages.length +
          parsed.statuses.length +
          parsed.accountEvents.length +
          parsed.identityUpdates.length ===
        0
          ? 'nothing_handled'
          : 'ok',
    });
    for (const { field, processed } of parsed.fields ?? [])
      deps.metrics.webhookFields.inc({ field, processed: processed ? 'true' : 'false' });
    deps.metrics.webhookItems.inc({ kind: 'message' }, parsed.messages.length);
    deps.metrics.webhookItems.inc({ kind: 'status' }, parsed.statuses.length);
    deps.metrics.webhookItems.inc({ kind: 'account_event' }, parsed.accountEvents.length);
    deps.metrics.webhookItems.inc({ kind: 'identity_update' }, parsed.identityUpdates.length);
    ctx.status = 200;
    ctx.body = { received: true };
  };

  router.post('/', async (ctx) => {
    const signature = ctx.get(SIGNATURE_HEADER) || undefined;
    // No or a malformed signature: refused before a byte of the body is read (or buffered).
    if (!isWellFormedSignature(signature)) {
      reject('signature');
      ctx.set('Connection', 'close');
      throw new HttpError(401, 'invalid_signature', 'Missing or invalid X-Hub-Signature-256.');
    }
    // The body's bytes count against the process-wide budget until the request is answered.
    const lease = deps.webhookBudget.lease();
    try {
      await receive(ctx, signature, lease);
    } finally {
      lease.release();
    }
  });

  return router;
}
