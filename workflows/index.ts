// Every workflow the worker runs. The worker bundles this file; nothing here may do I/O.
export { selfCheck } from './self-check.js';
export { connectWhatsApp } from './connect-whatsapp.js';
export { disconnectWhatsApp } from './disconnect-whatsapp.js';
export { handleMessage } from './handle-message.js';
export { handleInboundMessage } from './handle-inbound-message.js';
export { recordStatuses } from './record-statuses.js';
export { refreshToken } from './refresh-token.js';
export { recordAccountEventWorkflow as recordAccountEvent } from './record-account-event.js';
export { reconcile } from './reconcile.js';
export { retentionSweep } from './retention-sweep.js';
export { registerPhoneNumber } from './register-phone-number.js';
export { syncBusinessAppData } from './sync-business-app-data.js';
export { syncTemplates } from './sync-templates.js';
export { sendMessage } from './send-message.js';
export { eraseData } from './erase-data.js';
