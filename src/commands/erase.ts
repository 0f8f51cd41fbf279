// `erase`: an operator erases a business's data (`--business <id>`), or one of its customers
// (`--business <id> --phone <number>` or `--bsuid <id>`). The erasure's start waits in the outbox
// and a running worker starts it within seconds; `--wait` follows it until it is done.
import type { Config } from '../config.js';
import { createDb } from '../db.js';
import { requestErasureAsOperator } from '../services/erasures.js';
import { readErasure, type ErasureSubject } from '../store/erasures.js';
import type { ErasureRow } from '../store/tables.js';

export interface EraseArgs {
  businessId: string;
  subject: ErasureSubject;
  wait: boolean;
}

/** Parses the command's arguments; a message for the operator when they do not make one erasure. */
export function parseEraseArgs(args: string[]): EraseArgs | string {
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const businessId = value('--business');
  const phone = value('--phone')
    ?.replace(/[\s()-]/g, '')
    .replace(/^\+/, '');
  const bsuid = value('--bsuid')?.trim();
  const known = new Set(['--business', '--phone', '--bsuid', '--wait']);
  const unknown = args.filter((a, i) => a.startsWith('--') && !known.has(a) && !known.has(args[i - 1] ?? ''));
  if (!businessId || unknown.length > 0 || (phone && bsuid)) return 'usage';
  if (phone !== undefined && !/^\d{6,15}$/.test(phone)) return '--phone: a phone number in international form';
  if (bsuid !== undefined && !/^[A-Za-z]{2}\.[A-Za-z0-9_-]{1,157}$/.test(bsuid)) return '--bsuid: a BSUID';
  const subject: ErasureSubject = phone
    ? { kind: 'phone', value: phone }
    : bsuid
      ? { kind: 'bsuid', value: bsuid }
      : { kind: 'business' };
  return { businessId, subject, wait: args.includes('--wait') };
}

export async function runErase(
  config: Config,
  args: EraseArgs,
  progress: (row: ErasureRow) => void,
): Promise<ErasureRow> {
  const db = createDb(config.databaseUrl, { poolMax: 2 });
  try {
    let row = await requestErasureAsOperator(db, config, {
      businessId: args.businessId,
      subject: args.subject,
      source: 'operator',
    });
    progress(row);
    while (args.wait && row.state !== 'done') {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      row = (await readErasure(db, row.id)) ?? row;
    }
    return row;
  } finally {
    await db.destroy();
  }
}
