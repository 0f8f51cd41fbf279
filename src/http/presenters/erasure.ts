// Erasures and Meta's data-deletion requests as the API answers them: never a phone, BSUID or
// Facebook user id.
import type { DeletionStatus } from '../../services/erasures.js';
import type { ErasureSource } from '../../store/erasures.js';
import type { ErasureRow } from '../../store/tables.js';

export interface ErasureView {
  id: string;
  scope: 'customer' | 'business';
  state: 'pending' | 'running' | 'done';
  source: ErasureSource;
  requestedAt: string;
  completedAt: string | null;
  /** Rows deleted, by kind. */
  deleted: Record<string, number>;
}

export function erasureView(row: ErasureRow): ErasureView {
  return {
    id: row.id,
    scope: row.scope,
    state: row.state,
    source: row.source,
    requestedAt: row.requested_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
    deleted: { ...row.counts },
  };
}

/** Meta's data-deletion callback wants snake_case: the status page's URL and the code it shows. */
export function dataDeletionAnswer(publicUrl: string, confirmationCode: string) {
  return { url: `${publicUrl}/api/meta/data-deletion/${confirmationCode}`, confirmation_code: confirmationCode };
}

export interface DeletionStatusView {
  confirmationCode: string;
  state: 'in_progress' | 'done';
  requestedAt: string;
  completedAt: string | null;
}

export function deletionStatusView(status: DeletionStatus): DeletionStatusView {
  return {
    confirmationCode: status.confirmationCode,
    state: status.state,
    requestedAt: status.requestedAt.toISOString(),
    completedAt: status.completedAt?.toISOString() ?? null,
  };
}

const STATE_TEXT = {
  in_progress: 'Your request was received; your data is being deleted.',
  done: 'Your data has been deleted.',
} as const;

/** The page the person opens from Facebook: the state of their request, nothing about them. */
export function deletionStatusPage(status: DeletionStatusView): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Data deletion request</title></head>
<body><h1>Data deletion request ${status.confirmationCode}</h1><p>${STATE_TEXT[status.state]}</p>
<p>Requested ${status.requestedAt}${status.completedAt ? `; completed ${status.completedAt}` : ''}.</p></body></html>`;
}
