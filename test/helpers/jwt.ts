// Dashboard JWTs for tests, signed like the product's dashboard signs them.
import { SignJWT } from 'jose';
import { TEST_SECRETS } from './secrets.js';

export async function tokenFor(
  businessId: string,
  options: { secret?: string; expiresIn?: string; claims?: Record<string, unknown>; notBefore?: string } = {},
): Promise<string> {
  const jwt = new SignJWT({ business_id: businessId, ...options.claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt();
  jwt.setExpirationTime(options.expiresIn ?? '10m');
  if (options.notBefore) jwt.setNotBefore(options.notBefore);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRETS.AUTH_JWT_SECRET));
}

export async function authHeaders(businessId: string, secret?: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(businessId, secret ? { secret } : {})}` };
}
