// Erasures as the API, the operator command, a disconnect and Meta's data-deletion callback ask for
// them: each is an erasure row and its EraseData start written in one transaction (the outbox), so
// an accepted request is never lost while Temporal is away; the API starts it at once, any worker's
// drain otherwise.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { DomainError } from '../errors.js';
import {
  businessesConnectedBy,
  readBusinessErasure,
  insertDeletionRequest,
  insertErasures,
  readDeletionRequest,
  subjectHash,
  type NewErasure,
} from '../store/erasures.js';
import type { ErasureRow } from '../store/tables.js';
import { erasureStart } from '../temporal/names.js';
import { startAfterCommit, type WebhookDeps } from './webhooks.js';

/** One erasure, started right after its commit when Temporal answers. */
export async function requestErasure(deps: WebhookDeps, erasure: NewErasure): Promise<ErasureRow> {
  const { rows, starts } = await deps.db.transaction((trx) =>
    insertErasures(trx, deps.config.keyring, erasureStart(deps.config.temporal.taskQueue), [erasure]),
  );
  await startAfterCommit(deps, starts);
  return rows[0]!;
}

export const erasureNotFound = () =>
  new DomainError('not_found', 'erasure_not_found', 'no erasure of this business has that id');

/** One of the business's erasures. */
export async function readErasure(db: Db, businessId: string, erasureId: string): Promise<ErasureRow> {
  const row = await readBusinessErasure(db, businessId, erasureId);
  if (!row) throw erasureNotFound();
  return row;
}

/** The operator's erasure: the outbox row alone, which every worker's drain starts within seconds. */
export async function requestErasureAsOperator(db: Db, config: Config, erasure: NewErasure): Promise<ErasureRow> {
  const { rows } = await db.transaction((trx) =>
    insertErasures(trx, config.keyring, erasureStart(config.temporal.taskQueue), [erasure]),
  );
  return rows[0]!;
}

/** A confirmation code Meta shows the person: alphanumeric, as Meta asks. */
function confirmationCode(): string {
  return randomBytes(12).toString('hex');
}

/**
 * Meta's data-deletion callback: the Facebook user removed our app. Every business whose
 * integration that user connected is erased; the request is recorded under a code its status page
 * answers for, whether or not anything was found.
 */
export async function requestDataDeletion(
  deps: WebhookDeps,
  metaUserId: string,
): Promise<{ confirmationCode: string }> {
  const code = confirmationCode();
  const starts = await deps.db.transaction(async (trx) => {
    const requestId = await insertDeletionRequest(trx, {
      confirmationCode: code,
      userHash: subjectHash(deps.config.keyring, 'meta_user', metaUserId),
    });
    const businesses = await businessesConnectedBy(trx, metaUserId);
    const written = await insertErasures(
      trx,
      deps.config.keyring,
      erasureStart(deps.config.temporal.taskQueue),
      businesses.map((businessId) => ({
        businessId,
        subject: { kind: 'business' as const },
        source: 'meta_data_deletion' as const,
        deletionRequestId: requestId,
      })),
    );
    return written.starts;
  });
  await startAfterCommit(deps, starts);
  return { confirmationCode: code };
}

/** A data-deletion request as its status page tells it: nothing about the person. */
export interface DeletionStatus {
  confirmationCode: string;
  state: 'in_progress' | 'done';
  requestedAt: Date;
  completedAt: Date | null;
}

export const deletionRequestNotFound = () =>
  new DomainError('not_found', 'deletion_request_not_found', 'no deletion request has that code');

export async function deletionStatus(db: Db, code: string): Promise<DeletionStatus> {
  const status = await readDeletionRequest(db, code);
  if (!status) throw deletionRequestNotFound();
  return {
    confirmationCode: code,
    state: status.pending > 0 ? 'in_progress' : 'done',
    requestedAt: status.requestedAt,
    completedAt: status.completedAt,
  };
}
