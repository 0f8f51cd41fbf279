// The template parameter check against Meta's template definitions (as GET message_templates
// answers them) and the request schema of sends.
import { describe, expect, it } from 'vitest';
import { addressOf, sendRequest, templateParameterProblem } from '../src/meta/outbound-message.js';

const text = (value: string, name?: string) => ({
  type: 'text',
  text: value,
  ...(name ? { parameter_name: name } : {}),
});

describe('template parameters', () => {
  const positional = {
    parameterFormat: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['4::aW1h'] } },
      { type: 'BODY', text: 'Hi {{1}}, {{2}} and again {{1}}' },
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'QUICK_REPLY', text: 'Stop' },
          { type: 'URL', text: 'Track', url: 'https://example.com/track/{{1}}' },
        ],
      },
    ],
  };

  it('accepts the parameters a template asks for', () => {
    expect(
      templateParameterProblem(positional, [
        { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/a.jpg' } }] },
        { type: 'body', parameters: [text('Ann'), text('Bob')] },
        { type: 'button', sub_type: 'url', index: '1', parameters: [text('abc')] },
      ]),
    ).toBeNull();
  });

  it('names each mismatch: count, type and a missing URL parameter', () => {
    const problem = templateParameterProblem(positional, [
      { type: 'header', parameters: [{ type: 'video', video: { link: 'https://example.com/a.mp4' } }] },
      { type: 'body', parameters: [text('Ann')] },
    ]);
    expect(problem).toContain('header media parameter of type video');
    expect(problem).toContain('body takes 2 parameter(s), 1 given');
    expect(problem).toContain('button 1 takes 1 parameter(s), 0 given');
  });

  it('checks named parameters by name', () => {
    const named = { parameterFormat: 'NAMED', components: [{ type: 'BODY', text: 'Order {{order_id}} for {{name}}' }] };
    expect(
      templateParameterProblem(named, [{ type: 'body', parameters: [text('1', 'order_id'), text('Ann', 'name')] }]),
    ).toBeNull();
    expect(
      templateParameterProblem(named, [{ type: 'body', parameters: [text('1', 'order_id'), text('Ann', 'nam')] }]),
    ).toContain('missing name');
  });

  it('wants no parameters for a template without placeholders', () => {
    expect(
      templateParameterProblem({ parameterFormat: null, components: [{ type: 'BODY', text: 'Hi' }] }, undefined),
    ).toBeNull();
    expect(
      templateParameterProblem({ parameterFormat: null, components: [{ type: 'BODY', text: 'Hi' }] }, [
        { type: 'body', parameters: [text('x')] },
      ]),
    ).toContain('body takes 0');
  });
});

describe('send requests', () => {
  it('takes exactly one kind of content', () => {
    expect(sendRequest.safeParse({ to: '4915112345678', text: 'hi' }).success).toBe(true);
    expect(sendRequest.safeParse({ to: '4915112345678' }).success).toBe(false);
    expect(
      sendRequest.safeParse({ to: '4915112345678', text: 'hi', image: { link: 'https://example.com/a.jpg' } }).success,
    ).toBe(false);
    // Meta documents no caption for audio.
    expect(sendRequest.safeParse({ to: '1', audio: { link: 'https://example.com/a.ogg', caption: 'x' } }).success).toBe(
      false,
    );
  });

  it('tells a phone number from a BSUID', () => {
    expect(addressOf('+49 151 1234-5678')).toEqual({ phone: '4915112345678', bsuid: null });
    expect(addressOf('US.13491208655302741918')).toEqual({ phone: null, bsuid: 'US.13491208655302741918' });
  });
});
