// Results of the token-care activities.
import type { TokenKind } from '../src/meta/token-kinds.js';

export type TokenInspection =
  | { status: 'inactive' }
  | { status: 'invalid'; reason: string }
  /** expiresAt null: the token never expires (Embedded Signup business tokens). */
  | { status: 'valid'; expiresAt: string | null; expiresSoon: boolean; kind?: TokenKind };
