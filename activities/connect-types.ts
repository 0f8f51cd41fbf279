// Inputs and results of the connect activities: ids and non-secret facts only; secrets stay in
// token_staging and are looked up by connect id.
import type { DiscoveredAccount } from '../src/store/integrations.js';

export type { DiscoveredAccount } from '../src/store/integrations.js';

export interface ExchangedToken {
  /** ISO time, or null for a token that never expires (Embedded Signup business tokens). */
  expiresAt: string | null;
}

export interface DiscoveryHints {
  wabaId?: string;
  phoneNumberId?: string;
}

export interface Discovery {
  metaUserId: string | null;
  tokenType: string;
  accounts: DiscoveredAccount[];
}
