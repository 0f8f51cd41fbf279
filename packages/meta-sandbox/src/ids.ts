// Identifiers that look like Meta's: long digit strings for objects, `EAAG…` tokens, `AQ…` codes,
// `wamid.…` message ids. Unique per sandbox instance, and the secrets are never guessable.
import { randomBytes, randomInt } from 'node:crypto';

const randomToken = () => randomBytes(32).toString('base64url');

export class IdFactory {
  private readonly used = new Set<string>();
  private phoneCounter = randomInt(0, 50_000);

  /** A digit string of `length` digits (no leading zero), never handed out twice. */
  digits(length: number): string {
    for (;;) {
      let id = String(randomInt(1, 10));
      while (id.length < length) id += String(randomInt(0, 10));
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
  }

  /** A fictional US number (555-01xx), unique in this instance: `+1 555-0142 087`. */
  displayPhoneNumber(): string {
    const n = this.phoneCounter++ % 100_000;
    const high = String(Math.floor(n / 1000)).padStart(2, '0');
    const low = String(n % 1000).padStart(3, '0');
    return `+1 555-01${high} ${low}`;
  }
}

/** Meta's access tokens are long alphanumeric strings starting with EAA. */
export function accessTokenValue(): string {
  const random = `${randomToken()}${randomToken()}${randomToken()}${randomToken()}`.replace(/[^A-Za-z0-9]/g, '');
  return `EAAG${random}`;
}

/** Authorization codes are long opaque strings (Meta's start with AQ). */
export function authorizationCode(): string {
  return `AQ${randomToken()}${randomToken()}${randomToken()}`;
}

/** wamid.<base64 of a small binary record naming the customer> like Meta's `wamid.HBgL…AA==`. */
export function wamid(waId: string): string {
  const record = Buffer.concat([
    Buffer.from([0x1c, 0x18, waId.length & 0xff]),
    Buffer.from(waId, 'ascii'),
    Buffer.from([0x15, 0x02, 0x00, 0x12, 0x18, 0x14]),
    Buffer.from(randomBytes(10).toString('hex').toUpperCase(), 'ascii'),
    Buffer.from([0x00]),
  ]);
  return `wamid.${record.toString('base64')}`;
}

/** fbtrace_id: a short opaque string Meta puts on every error. */
export function fbtraceId(): string {
  return randomBytes(9).toString('base64').replace(/[+/=]/g, 'A');
}

/** Message template namespace: lowercase hex with an underscore, as Meta's. */
export function templateNamespace(): string {
  return `${randomBytes(4).toString('hex')}_${randomBytes(4).toString('hex')}_${randomBytes(4).toString('hex')}`;
}

export function digitsOf(phone: string): string {
  return phone.replace(/\D/g, '');
}
