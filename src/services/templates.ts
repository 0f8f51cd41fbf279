// The business's message templates: the catalogue as the syncs and webhooks keep it, and creating
// or deleting a template at Meta. Only the business's own active WhatsApp Business Accounts are
// visible; Meta's refusals become domain errors in Meta's words for the person.
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { DomainError } from '../errors.js';
import { graphClientFromConfig, type NewMessageTemplate } from '../meta/graph-client.js';
import { GraphError, templateRefusalMessage, templateRefusalOf } from '../meta/graph-errors.js';
import { readIntegrationToken } from '../store/integrations.js';
import {
  listCatalogue,
  markTemplatesDeleted,
  recordCreatedTemplate,
  templateAccountsOf,
  templatesNamed,
} from '../store/template-catalogue.js';
import type { MessageTemplateRow } from '../store/tables.js';

export interface TemplateDeps {
  config: Config;
  db: Db;
}

/** One page of the catalogue, newest first; `nextBefore` continues it. */
export interface TemplatePage {
  templates: MessageTemplateRow[];
  nextBefore: number | null;
}

export async function listTemplates(
  deps: TemplateDeps,
  businessId: string,
  query: { status?: string; name?: string; language?: string; wabaId?: string; limit: number; before?: number },
): Promise<TemplatePage> {
  const accounts = await templateAccountsOf(deps.db, businessId);
  const wabaIds = accounts.map((a) => a.wabaId).filter((id) => query.wabaId === undefined || id === query.wabaId);
  const rows = await listCatalogue(deps.db, { ...query, wabaIds });
  const page = rows.slice(0, query.limit);
  return { templates: page, nextBefore: rows.length > query.limit ? page.at(-1)!.id : null };
}

/** The account a create or delete is about: the one named, or the business's only one. */
async function accountFor(deps: TemplateDeps, businessId: string, wabaId: string | undefined) {
  const accounts = await templateAccountsOf(deps.db, businessId);
  if (accounts.length === 0)
    throw new DomainError('conflict', 'not_connected', 'No WhatsApp Business Account is connected.');
  if (wabaId !== undefined) {
    const account = accounts.find((a) => a.wabaId === wabaId);
    if (!account)
      throw new DomainError('not_found', 'waba_not_found', 'No such WhatsApp Business Account is connected.');
    return account;
  }
  if (accounts.length > 1)
    throw new DomainError(
      'invalid',
      'waba_required',
      'Several WhatsApp Business Accounts are connected: name one (wabaId).',
    );
  return accounts[0]!;
}

const needsReauth = (cause?: unknown) =>
  new DomainError('conflict', 'needs_reauth', 'The integration must be connected again.', { cause });

async function tokenOf(deps: TemplateDeps, integrationId: string): Promise<string> {
  const token = await readIntegrationToken(deps.db, deps.config.keyring, integrationId);
  if (!token) throw needsReauth();
  return token;
}

/** A Graph failure as our refusal. Meta's message for the person is scrubbed of secrets already. */
function refusal(error: unknown): unknown {
  if (!(error instanceof GraphError)) return error;
  const template = templateRefusalOf(error);
  const options = { cause: error };
  if (template === 'template_exists')
    return new DomainError('conflict', template, templateRefusalMessage(error), options);
  if (template === 'template_not_found')
    return new DomainError('not_found', template, templateRefusalMessage(error), options);
  if (template === 'template_invalid')
    return new DomainError('invalid', template, templateRefusalMessage(error), options);
  if (error.isRateLimit)
    return new DomainError(
      'rate_limited',
      'meta_rate_limited',
      'Meta is limiting this account’s calls; try again in a minute.',
      {
        retryAfterSeconds: 60,
        cause: error,
      },
    );
  if (error.kind === 'transient')
    return new DomainError('unavailable', 'meta_unavailable', 'Meta is unavailable; try again later.', {
      retryAfterSeconds: 30,
      cause: error,
    });
  if (error.kind === 'reauth') return needsReauth(error);
  if (error.kind === 'permission')
    return new DomainError('forbidden', 'permission_denied', 'The connected token may not manage templates.', options);
  return new DomainError('upstream_refused', 'meta_error', `Meta refused the request: ${error.message}`, options);
}

export async function createTemplate(
  deps: TemplateDeps,
  businessId: string,
  input: NewMessageTemplate & { wabaId?: string | undefined },
): Promise<MessageTemplateRow> {
  const account = await accountFor(deps, businessId, input.wabaId);
  const token = await tokenOf(deps, account.integrationId);
  const parameterFormat = input.parameterFormat ?? 'POSITIONAL';
  let created: { id: string; status: string; category?: string | undefined };
  try {
    created = await graphClientFromConfig(deps.config.meta).createMessageTemplate(token, account.wabaId, {
      ...input,
      parameterFormat,
    });
  } catch (error) {
    throw refusal(error);
  }
  return recordCreatedTemplate(deps.db, {
    wabaId: account.wabaId,
    templateId: created.id,
    name: input.name,
    language: input.language,
    category: created.category ?? input.category,
    status: created.status,
    components: input.components,
    parameterFormat,
  });
}

/** Deletes every language of the name at Meta, or one language version (Meta's hsm_id). */
export async function deleteTemplate(
  deps: TemplateDeps,
  businessId: string,
  target: { name: string; language?: string | undefined; wabaId?: string | undefined },
): Promise<MessageTemplateRow[]> {
  const account = await accountFor(deps, businessId, target.wabaId);
  const versions = await templatesNamed(deps.db, [account.wabaId], target.name, target.language);
  if (versions.length === 0)
    throw new DomainError('not_found', 'template_not_found', 'No template of that name (and language) is known.');
  const token = await tokenOf(deps, account.integrationId);
  try {
    await graphClientFromConfig(deps.config.meta).deleteMessageTemplate(token, account.wabaId, {
      name: target.name,
      ...(target.language ? { templateId: versions[0]!.message_template_id } : {}),
    });
  } catch (error) {
    throw refusal(error);
  }
  await markTemplatesDeleted(
    deps.db,
    versions.map((v) => v.id),
  );
  return versions;
}
