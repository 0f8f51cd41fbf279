// Embedded Signup in Meta's popup: the dashboard hands us the code the JS SDK returned (and the
// session's ids, which narrow discovery but are checked against what the token really sees), and
// forwards abandoned sessions (CANCEL, ERROR) so support can see where people gave up.
import { sha256Hex } from '../crypto.js';
import { markCoexistenceFromSignup } from '../store/coexistence.js';
import { attemptExists, recordAttemptStarted } from '../store/connect.js';
import { recordSignupEvent, type SignupEventOutcome } from '../store/signup-events.js';
import { stageSecret } from '../store/staging.js';
import { workflowTypes, businessAppSyncWorkflowId, popupConnectWorkflowId } from '../temporal/names.js';
import { awaitOutcome, ReplayWithoutWorkflow, startOrFind, type ConnectDeps, type ConnectOutcome } from './connect.js';

export interface PopupCode {
  code: string;
  wabaId?: string | undefined;
  phoneNumberId?: string | undefined;
  businessId?: string | undefined;
}

/** One connect per code (workflow id from its hash): the same code posted twice never exchanges twice. */
export async function connectWithPopupCode(
  deps: ConnectDeps,
  businessId: string,
  input: PopupCode,
): Promise<ConnectOutcome> {
  const { db, config } = deps;
  const workflowId = popupConnectWorkflowId(businessId, sha256Hex(input.code));
  if (!(await attemptExists(db, workflowId))) {
    // Popup codes live about 30 seconds: stage and start at once.
    await stageSecret(db, config.keyring, workflowId, 'code', input.code);
    await recordAttemptStarted(db, workflowId, businessId, 'popup');
  }
  const hints = {
    ...(input.wabaId ? { wabaId: input.wabaId } : {}),
    ...(input.phoneNumberId ? { phoneNumberId: input.phoneNumberId } : {}),
  };
  try {
    const handle = await startOrFind(deps, workflowId, {
      businessId,
      flow: 'popup',
      redirectUri: null,
      ...(Object.keys(hints).length ? { hints } : {}),
    });
    return await awaitOutcome(deps, handle, config.callbackWaitMs);
  } catch (error) {
    if (error instanceof ReplayWithoutWorkflow) return error.outcome;
    throw error;
  }
}

export interface SignupSessionEvent {
  event: 'CANCEL' | 'ERROR';
  currentStep?: string | undefined;
  errorMessage?: string | undefined;
  errorCode?: string | undefined;
  sessionId?: string | undefined;
}

/** Recorded unless the business already has SIGNUP_EVENTS_PER_HOUR events in the last hour. */
export function recordAbandonedSignup(
  deps: Pick<ConnectDeps, 'db' | 'config'>,
  businessId: string,
  event: SignupSessionEvent,
): Promise<SignupEventOutcome> {
  return recordSignupEvent(
    deps.db,
    {
      business_id: businessId,
      event: event.event,
      current_step: event.currentStep ?? null,
      error_message: event.errorMessage ?? null,
      error_code: event.errorCode ?? null,
      session_id: event.sessionId ?? null,
    },
    deps.config.limits.signupEventsPerHour,
  );
}

/**
 * The session ended with FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING: the number stays on the WhatsApp
 * Business app. A connect that saves it later marks it; one that already did is marked now.
 */
export function recordBusinessAppOnboarding(
  deps: Pick<ConnectDeps, 'db' | 'config'>,
  businessId: string,
  phoneNumberId: string,
): Promise<SignupEventOutcome> {
  return markCoexistenceFromSignup(deps.db, {
    businessId,
    phoneNumberId,
    eventsPerHour: deps.config.limits.signupEventsPerHour,
    start: {
      taskQueue: deps.config.temporal.taskQueue,
      workflowType: workflowTypes.syncBusinessAppData,
      workflowId: businessAppSyncWorkflowId,
    },
  });
}
