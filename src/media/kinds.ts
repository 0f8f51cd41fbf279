// What WhatsApp accepts of each kind of media: MIME types and maximum sizes, as Meta's "Supported
// media types" table of the Cloud API lists them.
export const MEDIA_KINDS = ['image', 'audio', 'video', 'document', 'sticker'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

const KB = 1024;
const MB = 1024 * KB;

const MIME_TYPES: Record<MediaKind, readonly string[]> = {
  image: ['image/jpeg', 'image/png'],
  // Meta lists audio/ogg for Opus only; the webhook declares it as "audio/ogg; codecs=opus".
  audio: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
  // Meta's table says video/3gp; the registered type is video/3gpp. Both are accepted.
  video: ['video/mp4', 'video/3gpp', 'video/3gp'],
  document: [
    'text/plain',
    'application/pdf',
    'application/vnd.ms-excel',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/msword',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/vnd.ms-powerpoint',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  ],
  sticker: ['image/webp'],
};

const MAX_BYTES: Record<Exclude<MediaKind, 'sticker'>, number> = {
  image: 5 * MB,
  audio: 16 * MB,
  video: 16 * MB,
  document: 100 * MB,
};

/** The largest file Meta accepts of this kind: stickers 100 KB static, 500 KB animated. */
export function maxBytes(kind: MediaKind, animated = false): number {
  if (kind === 'sticker') return animated ? 500 * KB : 100 * KB;
  return MAX_BYTES[kind];
}

/** "audio/ogg; codecs=opus" → "audio/ogg". */
export function baseMimeType(mimeType: string): string {
  return mimeType.split(';')[0]!.trim().toLowerCase();
}

export function mimeAllowed(kind: MediaKind, mimeType: string): boolean {
  return MIME_TYPES[kind].includes(baseMimeType(mimeType));
}
