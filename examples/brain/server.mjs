// A small AI brain speaking version 2 of waconnect's contract, with no dependencies: run it with
//   REPLY_WEBHOOK_SECRET=... PORT=8787 node examples/brain/server.mjs
// and point REPLY_WEBHOOK_URL at http://127.0.0.1:8787/. It checks the signature, then answers by
// keyword, to show each kind of answer the contract allows (docs/brain/*.schema.json):
//   "menu"   → interactive reply buttons          "photo"  → an image by URL
//   "order"  → the hello_world template           "human"  → a handoff to a person, nothing sent
//   "quiet"  → nothing                            "broken" → an invalid answer (waconnect falls back)
//   an image → thanks, with the size of the stored picture
//   anything else → two texts: an echo of the turn, then what the brain knows of the conversation
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.REPLY_WEBHOOK_SECRET;
if (!secret) throw new Error('REPLY_WEBHOOK_SECRET is required');

function signedBy(body, header) {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(String(header ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function answer(request) {
  const turn = request.messages;
  const last = turn[turn.length - 1];
  const said = turn.map((m) => m.text ?? `[${m.type}]`).join(' / ');
  const words = (last.text ?? '').toLowerCase();
  if (last.type === 'image' && last.media)
    return { messages: [{ text: `Thanks for the photo (${last.media.size} bytes).` }] };
  if (words.includes('menu'))
    return {
      messages: [
        {
          interactive: {
            type: 'button',
            body: { text: 'What would you like to do?' },
            action: {
              buttons: [
                { type: 'reply', reply: { id: 'book', title: 'Book a table' } },
                { type: 'reply', reply: { id: 'hours', title: 'Opening hours' } },
              ],
            },
          },
        },
      ],
    };
  if (words.includes('photo'))
    return { messages: [{ image: { link: 'https://example.com/today.jpg', caption: 'Today’s special' } }] };
  if (words.includes('order'))
    return {
      messages: [
        {
          template: {
            name: 'hello_world',
            language: 'en_US',
            components: [{ type: 'body', parameters: [{ type: 'text', text: request.customer.name ?? 'there' }] }],
          },
        },
      ],
    };
  if (words.includes('human')) return { messages: [], handoff: { note: `The customer asked for a person: ${said}` } };
  if (words.includes('quiet')) return { messages: [] };
  if (words.includes('broken')) return { messages: [{ text: '' }] };
  const hours = Math.round(request.window.remainingMs / 3_600_000);
  return {
    version: 2,
    messages: [
      { text: `You said: ${said}` },
      { text: `I remember ${request.history.length} earlier messages; we can chat for ${hours} more hours.` },
    ],
  };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.method !== 'POST' || !signedBy(body, req.headers['x-waconnect-signature-256'])) {
      res.writeHead(401).end();
      return;
    }
    const request = JSON.parse(body.toString('utf8'));
    if (request.version !== 2) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"this brain speaks version 2"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(request)));
  });
});

server.listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => {
  console.log(`brain listening on ${server.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
