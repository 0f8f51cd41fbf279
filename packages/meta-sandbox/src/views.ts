// Read-only views of the state for admins and tests: each field listed, so no token or code value
// can slip into an answer (tokens appear as a short hash id only).
import { createHash } from 'node:crypto';
import type { QualityRating, StatusMode, Waba } from './model.js';
import type { SandboxState } from './state.js';
import type { World } from './world.js';

export interface AccountSummary {
  wabaId: string;
  name: string;
  userId: string;
  /** The user's business: the owner of an owned WABA, the partner of a client WABA. */
  businessId: string;
  ownerBusinessId: string;
  owned: boolean;
  subscribed: boolean;
  appUninstalled: boolean;
  phoneNumbers: Array<{
    id: string;
    displayPhoneNumber: string;
    verifiedName: string;
    qualityRating: QualityRating;
    platformType: string;
    messagingLimitTier: string;
    nameStatus: string;
    statusMode: StatusMode;
  }>;
  tokens: { total: number; invalidated: number };
}

export function accountSummary(world: World, waba: Waba): AccountSummary {
  const tokens = world.tokensForWaba(waba.id);
  return {
    wabaId: waba.id,
    name: waba.name,
    userId: waba.userId,
    businessId: waba.partnerBusinessId ?? waba.ownerBusinessId,
    ownerBusinessId: waba.ownerBusinessId,
    owned: waba.partnerBusinessId === undefined,
    subscribed: waba.subscription !== undefined,
    appUninstalled: waba.appUninstalled,
    phoneNumbers: waba.phoneNumberIds.flatMap((id) => {
      const n = world.numbers.get(id);
      if (!n) return [];
      return [
        {
          id: n.id,
          displayPhoneNumber: n.displayPhoneNumber,
          verifiedName: n.verifiedName,
          qualityRating: n.qualityRating,
          platformType: n.platformType,
          twoStepPinSet: n.twoStepPin !== undefined,
          isOnBizApp: n.isOnBizApp,
          messagingLimitTier: n.messagingLimitTier,
          nameStatus: n.nameStatus,
          statusMode: { ...n.statusMode },
        },
      ];
    }),
    tokens: { total: tokens.length, invalidated: tokens.filter((t) => t.invalidated).length },
  };
}

export function stateDump(state: SandboxState): Record<string, unknown> {
  const now = state.now();
  const { world } = state;
  return {
    app: {
      appId: state.appId,
      name: state.appName,
      partnerBusinessId: world.partnerBusinessId,
      graphApiVersion: state.graphApiVersion,
      webhookUrl: state.webhookUrl ?? null,
    },
    clock: new Date(now).toISOString(),
    users: [...world.users.values()].map((u) => ({ id: u.id, name: u.name, extendOnExchange: u.extendOnExchange })),
    businesses: [...world.businesses.values()].map((b) => ({ id: b.id, name: b.name, userId: b.userId })),
    accounts: state.accounts(),
    tokens: [...world.tokens.values()].map((t) => ({
      tokenId: createHash('sha256').update(t.value).digest('hex').slice(0, 12),
      kind: t.kind,
      userId: t.userId,
      wabaIds: [...t.wabaIds],
      scopes: [...t.scopes],
      issuedAt: new Date(t.issuedAt).toISOString(),
      expiresAt: t.expiresAt === 0 ? null : new Date(t.expiresAt).toISOString(),
      invalidated: t.invalidated ?? null,
      expired: t.expiresAt !== 0 && now >= t.expiresAt,
    })),
    codes: [...world.codes.values()].map((c) => ({
      popup: c.redirectUri === undefined,
      wabaIds: [...c.wabaIds],
      used: c.usedAt !== undefined,
      expired: now >= c.expiresAt,
    })),
    faults: state.faults(),
    customers: state.messaging.customerList(),
    pendingWebhooks: state.dispatcher.pendingCount(),
  };
}
