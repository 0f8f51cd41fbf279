// Names that the API, the worker, the tests and the operators share: workflow ids and search
// attributes. Workflow ids are readable in the Temporal UI and carry ids only, never secrets.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const searchAttributes = {
  businessId: defineSearchAttributeKey('WaBusinessId', SearchAttributeType.KEYWORD),
  integrationId: defineSearchAttributeKey('WaIntegrationId', SearchAttributeType.KEYWORD),
  messageId: defineSearchAttributeKey('WaMessageId', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` arguments for `temporal server start-dev` and `temporal operator search-attribute create`. */
export const searchAttributeArgs: string[] = Object.values(searchAttributes).flatMap((key) => [
  '--search-attribute',
  `${key.name}=Keyword`,
]);

export function selfCheckWorkflowId(checkId: string): string {
  return `self-check/${checkId}`;
}
