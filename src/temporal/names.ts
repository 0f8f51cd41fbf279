// Names that the API, the worker, the tests and the operators share: workflow ids and search
// attributes. Workflow ids are readable in the Temporal UI and carry ids only, never secrets.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type * as workflows from '../../workflows/index.js';

export const searchAttributes = {
  businessId: defineSearchAttributeKey('WaBusinessId', SearchAttributeType.KEYWORD),
  integrationId: defineSearchAttributeKey('WaIntegrationId', SearchAttributeType.KEYWORD),
  messageId: defineSearchAttributeKey('WaMessageId', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` arguments for `temporal server start-dev` and `temporal operator search-attribute create`. */
export const searchAttributeArgs: string[] = Object.values(searchAttributes).flatMap((key) => [
  '--search-attribute',
  `${key.name}=Keyword`,
]);

/**
 * Task queues by kind of work, so a message backlog never delays a person waiting on the connect
 * callback, and a batch of business-initiated sends never delays a reply. The maintenance queue
 * keeps the base name: executions and schedules created before the split still find a worker there.
 */
export const QUEUE_KINDS = ['messages', 'outbound', 'connect', 'maintenance'] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

export function taskQueueName(base: string, kind: QueueKind): string {
  return kind === 'maintenance' ? base : `${base}-${kind}`;
}

/** Every workflow type, and the queue its executions run on. */
export const WORKFLOW_QUEUES = {
  connectWhatsApp: 'connect',
  disconnectWhatsApp: 'connect',
  /** One number's Cloud API registration, asked for by the business. */
  registerPhoneNumber: 'connect',
  /** Executions started before intake moved into PostgreSQL (input: the message); none are started now. */
  handleMessage: 'messages',
  /** One per inbound message, input: our message row id. */
  handleInboundMessage: 'messages',
  /**
   * One per send the business starts through our API, input: our outbound row id. On a queue of
   * its own: a batch of thousands waiting for Meta's pace must not hold the slots replies need.
   */
  sendMessage: 'outbound',
  // No longer started (statuses are recorded at intake); registered while older executions run.
  recordStatuses: 'maintenance',
  recordAccountEvent: 'maintenance',
  /** One per coexistence number: asks Meta for its contacts and chat history within 24 hours. */
  syncBusinessAppData: 'maintenance',
  /** One per WhatsApp Business Account (our row id): reads its templates into the catalogue. */
  syncTemplates: 'maintenance',
  refreshToken: 'maintenance',
  /** One per erasure (a customer's or a business's data), input: our erasure row id. */
  eraseData: 'maintenance',
  reconcile: 'maintenance',
  /** One sweep at a time per deployment, started by the retention Schedule. */
  retentionSweep: 'maintenance',
  selfCheck: 'maintenance',
} as const satisfies Record<keyof typeof workflows, QueueKind>;
export type WorkflowType = keyof typeof WORKFLOW_QUEUES;

/**
 * Every workflow type by the name the worker registers it under (the export of workflows/index.ts):
 * what clients, Schedules and the outbox start, so no start spells a type by hand.
 */
export const workflowTypes = Object.fromEntries(Object.keys(WORKFLOW_QUEUES).map((type) => [type, type])) as {
  readonly [T in WorkflowType]: T;
};

export function taskQueueFor(base: string, workflowType: WorkflowType): string {
  return taskQueueName(base, WORKFLOW_QUEUES[workflowType]);
}

/** The one reconcile Schedule of the namespace's deployment. */
export function reconcileScheduleId(base: string): string {
  return `reconcile/${base}`;
}

/** The one retention Schedule of the deployment; its sweeps run under this id (and the time). */
export function retentionScheduleId(base: string): string {
  return `retention/${base}`;
}

export function selfCheckWorkflowId(checkId: string): string {
  return `self-check/${checkId}`;
}

/** Readable id part: business ids come from a JWT claim and may hold any character. */
function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Every connect workflow of the business starts with this (its staged secrets are keyed by that id). */
export function connectWorkflowIdPrefix(businessId: string): string {
  return `connect/${idPart(businessId)}/`;
}

/** One ConnectWhatsApp per OAuth state: a double click or a reload never starts a second. */
export function connectWorkflowId(businessId: string, stateHash: string): string {
  return `${connectWorkflowIdPrefix(businessId)}${stateHash.slice(0, 24)}`;
}

/** One ConnectWhatsApp per Embedded Signup code: the same code posted twice never exchanges twice. */
export function popupConnectWorkflowId(businessId: string, codeHash: string): string {
  return `${connectWorkflowIdPrefix(businessId)}es-${codeHash.slice(0, 24)}`;
}

export function disconnectWorkflowId(integrationId: string): string {
  return `disconnect/${integrationId}`;
}

/** One registration at a time per number, by our row id (never Meta's phone number id). */
export function registrationWorkflowId(numberId: string): string {
  return `register-number/${numberId}`;
}

/**
 * One HandleMessage per stored inbound message, by our row id: PostgreSQL decides duplicates, and a
 * wamid (which encodes the customer's phone number) never appears in a workflow id.
 */
/** A message's workflow id is this prefix and its row id (intake writes it in SQL, too). */
export const MESSAGE_WORKFLOW_ID_PREFIX = 'message/';
export function messageWorkflowId(messageId: number): string {
  return `${MESSAGE_WORKFLOW_ID_PREFIX}${messageId}`;
}

/** The hint a message workflow gets when the turn before it was released (the truth is in PostgreSQL). */
export const TURN_RELEASED_SIGNAL = 'turnReleased';

/** One token-care Schedule per integration: reconnecting keeps it, never adds a second. */
export const TOKEN_SCHEDULE_PREFIX = 'token-refresh/';
export function tokenScheduleId(integrationId: string): string {
  return `${TOKEN_SCHEDULE_PREFIX}${integrationId}`;
}

/** Runs started by the schedule get this id with the scheduled time appended. */
export function refreshWorkflowId(integrationId: string): string {
  return `token-refresh/${integrationId}`;
}

/** One RecordAccountEvent per distinct event (a hash of its content): redelivery changes nothing twice. */
export function accountEventWorkflowId(eventKey: string): string {
  return `account-event/${eventKey.slice(0, 32)}`;
}

/** One SyncBusinessAppData per coexistence number, by our number row id: the syncs are asked for once. */
const BUSINESS_APP_SYNC_ID_PREFIX = 'business-app-sync/';
export function businessAppSyncWorkflowId(phoneNumberRowId: string): string {
  return `${BUSINESS_APP_SYNC_ID_PREFIX}${phoneNumberRowId}`;
}

/**
 * One SyncTemplates per WhatsApp Business Account, by our account row id: the connect, the daily
 * token care and template webhooks all ask for the same id, so a burst joins the run under way.
 */
const TEMPLATE_SYNC_ID_PREFIX = 'template-sync/';
function templateSyncWorkflowId(accountRowId: string): string {
  return `${TEMPLATE_SYNC_ID_PREFIX}${accountRowId}`;
}

/** The outbox start of an account's template sync, as the stores write it. */
export function templateSyncStart(taskQueue: string) {
  return { taskQueue, workflowType: workflowTypes.syncTemplates, workflowId: templateSyncWorkflowId };
}

/** Workflow types whose id runs again after a completed run (each start is a fresh pass). */
export const RERUNNABLE_WORKFLOW_TYPES: ReadonlySet<string> = new Set([workflowTypes.syncTemplates]);
/** One SendMessage per (business, idempotency key): the key's hash, never the key or the recipient. */
export function sendMessageWorkflowId(businessId: string, keyHash: string): string {
  return `send/${idPart(businessId)}/${keyHash.slice(0, 32)}`;
}

/** One EraseData per erasure, by our erasure row id: never the phone, BSUID or business it erases. */
/**
 * The outbox start of an erasure. No business id on the row: a business erasure deletes that
 * business's rows, its own start included.
 */
export function erasureStart(taskQueue: string) {
  return (erasureId: string) => ({
    taskQueue,
    workflowType: workflowTypes.eraseData,
    workflowId: erasureWorkflowId(erasureId),
    args: [erasureId],
    businessId: null,
    integrationId: null,
    messageId: null,
  });
}

export function erasureWorkflowId(erasureId: string): string {
  return `erasure/${erasureId}`;
}
