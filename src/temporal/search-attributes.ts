// The custom search attributes the workflows and schedules set: registered by `migrate` through
// the operator service, checked by /readyz and by the worker before it polls. A namespace that
// lacks one refuses every workflow start that sets it, so nothing may start until they exist.
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { searchAttributes } from './names.js';

const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

/** The SDK's type names, as the operator service and the CLI spell them. */
const INDEXED: Record<string, { indexed: number; cli: string }> = {
  [SearchAttributeType.KEYWORD]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, cli: 'Keyword' },
  [SearchAttributeType.TEXT]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_TEXT, cli: 'Text' },
  [SearchAttributeType.INT]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_INT, cli: 'Int' },
  [SearchAttributeType.BOOL]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_BOOL, cli: 'Bool' },
  [SearchAttributeType.DATETIME]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME, cli: 'Datetime' },
  [SearchAttributeType.DOUBLE]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE, cli: 'Double' },
  [SearchAttributeType.KEYWORD_LIST]: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST, cli: 'KeywordList' },
};

export interface WantedAttribute {
  name: string;
  indexed: number;
  cli: string;
}

export const wantedSearchAttributes: WantedAttribute[] = Object.values(searchAttributes).map((key) => ({
  name: key.name,
  ...INDEXED[key.type]!,
}));

export interface SearchAttributeCheck {
  /** Not registered on the namespace. */
  missing: string[];
  /** Registered under the same name with another type: starts that set it still fail. */
  wrongType: string[];
}

/** What the namespace has against what the code sets. */
export async function checkSearchAttributes(client: Client): Promise<SearchAttributeCheck> {
  const answer = await client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace });
  const custom = answer.customAttributes ?? {};
  const check: SearchAttributeCheck = { missing: [], wrongType: [] };
  for (const wanted of wantedSearchAttributes) {
    const type = custom[wanted.name];
    if (type === undefined || type === null) check.missing.push(wanted.name);
    else if (Number(type) !== wanted.indexed) check.wrongType.push(wanted.name);
  }
  return check;
}

/** The exact commands an operator runs where our credentials may not create them (Temporal Cloud). */
export function searchAttributeInstructions(namespace: string, names: string[]): string {
  const chosen = wantedSearchAttributes.filter((a) => names.includes(a.name));
  return [
    `Create these search attributes on namespace "${namespace}", then run migrate again:`,
    ...chosen.map((a) => `  ${a.name} (${a.cli})`),
    'Self-hosted, with the Temporal CLI:',
    ...chosen.map(
      (a) => `  temporal operator search-attribute create --namespace ${namespace} --name ${a.name} --type ${a.cli}`,
    ),
    'Temporal Cloud, with tcld:',
    `  tcld namespace search-attributes add --namespace ${namespace} ${chosen.map((a) => `--sa "${a.name}=${a.cli}"`).join(' ')}`,
  ].join('\n');
}

export class SearchAttributesError extends Error {
  override name = 'SearchAttributesError';
  constructor(
    message: string,
    readonly names: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** gRPC codes of an operator call the credentials are not allowed to make. */
const NOT_ALLOWED = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

export interface RegisterReport {
  added: string[];
  present: string[];
}

/**
 * Adds the missing ones, idempotently. Where the operator service refuses (Temporal Cloud's
 * namespace API keys, a locked-down cluster), throws with the commands to run instead.
 */
export async function registerSearchAttributes(client: Client): Promise<RegisterReport> {
  const namespace = client.options.namespace;
  const before = await checkSearchAttributes(client);
  if (before.wrongType.length > 0) {
    throw new SearchAttributesError(
      `Search attribute(s) ${before.wrongType.join(', ')} exist on namespace "${namespace}" with another type; ` +
        'remove them (or use another namespace) and run migrate again.',
      before.wrongType,
    );
  }
  const present = wantedSearchAttributes.map((a) => a.name).filter((name) => !before.missing.includes(name));
  if (before.missing.length === 0) return { added: [], present };
  const searchAttributesToAdd = Object.fromEntries(
    wantedSearchAttributes.filter((a) => before.missing.includes(a.name)).map((a) => [a.name, a.indexed]),
  );
  try {
    await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: searchAttributesToAdd });
  } catch (error) {
    if (isGrpcServiceError(error) && NOT_ALLOWED.has(error.code)) {
      throw new SearchAttributesError(
        `These credentials may not create search attributes (${error.details || error.message}).\n` +
          searchAttributeInstructions(namespace, before.missing),
        before.missing,
        { cause: error },
      );
    }
    // Another migrate added them at the same moment.
    if (!isGrpcServiceError(error) || error.code !== 6 /* ALREADY_EXISTS */) throw error;
  }
  return { added: before.missing, present };
}

/** A workflow or schedule start the server refused because the namespace lacks an attribute. */
export function isMissingSearchAttribute(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (
      /search attribute/i.test(current.message) &&
      /no mapping|not defined|unknown|not found/i.test(current.message)
    ) {
      return true;
    }
    current = current.cause;
  }
  return false;
}
