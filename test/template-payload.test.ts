// The template and user_preferences webhooks, parsed from bodies written after Meta's webhook
// references (syntax and example values of message_template_status_update,
// template_category_update, message_template_quality_update and user_preferences).
import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../src/meta/webhook-payload.js';

const WABA = '102290129340398';
const change = (field: string, value: unknown, time: number | undefined = 1739321024) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: WABA, ...(time === undefined ? {} : { time }), changes: [{ value, field }] }],
});

describe('template and user preference webhooks', () => {
  it("reads a status event with its reason, category, other_info and Meta's integer template id", () => {
    const parsed = parseWebhook(
      change('message_template_status_update', {
        event: 'PAUSED',
        message_template_id: 1689556908129832,
        message_template_name: 'order_confirmation',
        message_template_language: 'en-US',
        reason: 'NONE',
        message_template_category: 'MARKETING',
        other_info: { title: 'FIRST_PAUSE', description: 'Your WhatsApp message template has been paused.' },
      }),
    );
    expect(parsed.fields).toEqual([{ field: 'message_template_status_update', processed: true }]);
    expect(parsed.templateEvents).toEqual([
      expect.objectContaining({
        field: 'message_template_status_update',
        wabaId: WABA,
        occurredAt: 1739321024000,
        templateId: '1689556908129832',
        name: 'order_confirmation',
        language: 'en-US',
        event: 'PAUSED',
        reason: 'NONE',
        category: 'MARKETING',
        otherInfo: { title: 'FIRST_PAUSE', description: 'Your WhatsApp message template has been paused.' },
        rejectionInfo: null,
      }),
    ]);
  });

  it('reads a rejection for INVALID_FORMAT, a disabled template and a deletion whose reason is null', () => {
    const parsed = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          time: 1751247548,
          changes: [
            {
              field: 'message_template_status_update',
              value: {
                event: 'REJECTED',
                message_template_id: 1689556908129835,
                message_template_name: 'abandoned_cart',
                message_template_language: 'en',
                reason: 'INVALID_FORMAT',
                message_template_category: 'MARKETING',
                rejection_info: {
                  reason: 'The content is the same as the content in another rejected template.',
                  recommendation: 'You need to change the content of your template.',
                },
              },
            },
            {
              field: 'message_template_status_update',
              value: {
                event: 'DISABLED',
                message_template_id: 1689556908129836,
                message_template_name: 'spring_sale',
                message_template_language: 'en_US',
                reason: 'NONE',
                message_template_category: 'MARKETING',
                disable_info: { disable_date: 1751234563 },
              },
            },
            {
              field: 'message_template_status_update',
              value: {
                event: 'PENDING_DELETION',
                message_template_id: 1689556908129837,
                message_template_name: 'old_promo',
                message_template_language: 'en_US',
                reason: null,
              },
            },
          ],
        },
      ],
    });
    const [rejected, disabled, deleted] = parsed.templateEvents!;
    expect(rejected).toMatchObject({ event: 'REJECTED', reason: 'INVALID_FORMAT' });
    expect(rejected!.rejectionInfo).toMatchObject({
      recommendation: 'You need to change the content of your template.',
    });
    expect(disabled).toMatchObject({ event: 'DISABLED', disableDate: 1751234563000 });
    expect(deleted).toMatchObject({ event: 'PENDING_DELETION', reason: null, category: null });
  });

  it('tells an announced recategorisation from a completed one', () => {
    const announced = parseWebhook(
      change('template_category_update', {
        message_template_id: 278077987957091,
        message_template_name: 'welcome_template',
        message_template_language: 'en-US',
        correct_category: 'MARKETING',
        new_category: 'UTILITY',
        category_update_timestamp: 1760711433,
      }),
    ).templateEvents![0]!;
    expect(announced).toMatchObject({
      field: 'template_category_update',
      templateId: '278077987957091',
      correctCategory: 'MARKETING',
      newCategory: 'UTILITY',
      previousCategory: null,
      categoryUpdateAt: 1760711433000,
    });
    const completed = parseWebhook(
      change('template_category_update', {
        message_template_id: 278077987957091,
        message_template_name: 'welcome_template',
        message_template_language: 'en-US',
        previous_category: 'UTILITY',
        new_category: 'MARKETING',
      }),
    ).templateEvents![0]!;
    expect(completed).toMatchObject({ previousCategory: 'UTILITY', newCategory: 'MARKETING', correctCategory: null });
  });

  it('reads a quality change', () => {
    const parsed = parseWebhook(
      change('message_template_quality_update', {
        previous_quality_score: 'GREEN',
        new_quality_score: 'YELLOW',
        message_template_id: 806312974732579,
        message_template_name: 'welcome_template',
        message_template_language: 'en-US',
      }),
    );
    expect(parsed.templateEvents).toEqual([
      expect.objectContaining({
        previousQualityScore: 'GREEN',
        newQualityScore: 'YELLOW',
        templateId: '806312974732579',
      }),
    ]);
  });

  it("reads Meta's user_preferences example, by phone and by BSUID alone", () => {
    const parsed = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
                contacts: [{ wa_id: '16505551234' }],
                user_preferences: [
                  {
                    wa_id: '16505551234',
                    detail: 'User requested to resume marketing messages',
                    category: 'marketing_messages',
                    value: 'resume',
                    timestamp: 1731705721,
                  },
                ],
              },
              field: 'user_preferences',
            },
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
                contacts: [
                  { profile: { name: 'Sheena Nelson', username: '@sheena' }, user_id: 'US.13491208655302741918' },
                ],
                user_preferences: [
                  {
                    user_id: 'US.13491208655302741918',
                    detail: 'User requested to stop marketing messages',
                    category: 'marketing_messages',
                    value: 'stop',
                    timestamp: 1739321024,
                  },
                ],
              },
              field: 'user_preferences',
            },
          ],
        },
      ],
    });
    expect(parsed.userPreferences).toEqual([
      {
        phoneNumberId: '106540352242922',
        wabaId: WABA,
        phone: '16505551234',
        bsuid: null,
        parentBsuid: null,
        name: null,
        value: 'resume',
        category: 'marketing_messages',
        detail: 'User requested to resume marketing messages',
        occurredAt: 1731705721000,
      },
      {
        phoneNumberId: '106540352242922',
        wabaId: WABA,
        phone: null,
        bsuid: 'US.13491208655302741918',
        parentBsuid: null,
        name: 'Sheena Nelson',
        value: 'stop',
        category: 'marketing_messages',
        detail: 'User requested to stop marketing messages',
        occurredAt: 1739321024000,
      },
    ]);
    expect(parsed.fields).toEqual([
      { field: 'user_preferences', processed: true },
      { field: 'user_preferences', processed: true },
    ]);
  });

  it('skips a malformed item or change and keeps the valid ones next to it, without throwing', () => {
    const parsed = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          time: 1739321024,
          changes: [
            { field: 'message_template_status_update', value: { event: 'APPROVED', message_template_name: 'x' } },
            { field: 'message_template_quality_update', value: 'not an object' },
            { field: 'template_category_update', value: { message_template_id: 'abc', new_category: 'UTILITY' } },
            {
              field: 'message_template_status_update',
              value: { event: 'APPROVED', message_template_id: 42, message_template_name: 'ok', reason: 'NONE' },
            },
            {
              field: 'user_preferences',
              value: {
                metadata: { phone_number_id: 'PN1' },
                user_preferences: [
                  { wa_id: '4915', category: 'marketing_messages', value: 'maybe', timestamp: 1 },
                  { category: 'marketing_messages', value: 'stop', timestamp: 1 },
                  null,
                  { wa_id: '4916', category: 'marketing_messages', value: 'stop', timestamp: '1739321024' },
                ],
              },
            },
            { field: 'user_preferences', value: { user_preferences: [] } },
          ],
        },
        {
          changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 1 } }],
        },
      ],
    });
    expect(parsed.templateEvents).toEqual([expect.objectContaining({ templateId: '42', event: 'APPROVED' })]);
    expect(parsed.userPreferences).toEqual([expect.objectContaining({ phone: '4916', value: 'stop' })]);
    expect(parsed.skipped.length).toBeGreaterThanOrEqual(8);
  });
});
