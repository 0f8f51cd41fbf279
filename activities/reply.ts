// The responder step: rules (run as a local activity) or the HTTP "AI brain" (a regular activity
// with its own timeout and retries). A refusal the service will repeat is not retried.
import { responderFailure, responderNotConfigured } from '../src/temporal/failure-types.js';
import { HttpResponder, ReplyServiceError } from '../src/reply/http.js';
import type { Reply, ReplyRequest } from '../src/reply/responder.js';
import { RulesResponder } from '../src/reply/rules.js';
import type { ActivityDeps } from './deps.js';

export function createReplyActivities({ config }: ActivityDeps) {
  const http =
    config.reply.webhookUrl && config.reply.webhookSecret
      ? new HttpResponder(config.reply.webhookUrl, config.reply.webhookSecret, config.reply.timeoutMs)
      : undefined;
  return {
    async replyByRules(input: { request: ReplyRequest; autoReplyText: string }): Promise<Reply | null> {
      return new RulesResponder(input.autoReplyText).reply(input.request);
    },

    async replyByHttp(input: { request: ReplyRequest }): Promise<Reply | null> {
      if (!http) throw responderNotConfigured();
      try {
        return await http.reply(input.request);
      } catch (error) {
        if (error instanceof ReplyServiceError) {
          throw responderFailure(error);
        }
        throw error;
      }
    },
  };
}
