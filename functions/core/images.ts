import type { ErrorCode, IssueCode, WarningCode } from './issue-codes.js';

/**
 * Images in training examples: what OpenAI's vision fine-tuning accepts, read from the few header bytes
 * that say it, and what each image costs in tokens.
 *
 * Limits: OpenAI, "Vision fine-tuning" (https://developers.openai.com/api/docs/guides/vision-fine-tuning,
 * read 2026-11-29): images as HTTP URLs or base64 data URLs; at most 50,000 examples with images per
 * training file (text examples not counted); at most 10 images per example; each image at most 10 MB;
 * JPEG, PNG or WEBP; RGB or RGBA image mode; no images in assistant messages.
 *
 * Tokens: OpenAI, "Images and vision", calculating costs (https://platform.openai.com/docs/guides/vision,
 * section "Calculating costs", GPT-4o; read 2026-11-29 through quotations of it, the page itself not
 * being reachable from here): detail "low" costs 85 tokens; "high" scales the image to fit in 2048×2048,
 * then so that its shortest side is 768 px (only ever down), and costs 85 + 170 per 512 px tile that
 * covers it. The guide's examples: 1024×1024 high = 765, 2048×4096 high = 1105.
 *
 * Base64 is never decoded whole: a header needs a few bytes, found by their offset (JPEG segments are
 * skipped by length, not read), and the decoded size follows from the text's length.
 */

export const MAX_IMAGES_PER_EXAMPLE = 10;
export const MAX_EXAMPLES_WITH_IMAGES = 50_000;
/**
 * "10 MB": read as 10,000,000 bytes, the smaller of the two readings, so that an image tunedrop passes
 * is never one the provider refuses.
 */
export const MAX_IMAGE_BYTES = 10_000_000;

export type ImageDetail = 'low' | 'high' | 'auto';
export type ImageFormat = 'jpeg' | 'png' | 'webp';

export const LOW_DETAIL_TOKENS = 85;
const BASE_TOKENS = 85;
const TILE_TOKENS = 170;
const TILE = 512;
const FIT_SQUARE = 2048;
const SHORT_SIDE = 768;
/**
 * The most a high-detail image can cost: after scaling, the short side is at most 768 px (2 tiles) and
 * the long one at most 2048 px (4 tiles). A test checks no size costs more.
 */
export const MAX_HIGH_DETAIL_TOKENS = BASE_TOKENS + TILE_TOKENS * 2 * 4;

/**
 * Tokens of one image on gpt-4o. "auto" lets the model choose, which tunedrop cannot know before
 * training, so it is counted as "high": the cost is never under-estimated.
 */
export function imageTokens(width: number, height: number, detail: ImageDetail): number {
  if (detail === 'low') return LOW_DETAIL_TOKENS;
  // The scale as a fraction (numerator/denominator) so that tile edges are exact, not floating point.
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  let numerator = 1;
  let denominator = 1;
  if (long > FIT_SQUARE) {
    numerator = FIT_SQUARE;
    denominator = long;
  }
  // Shortest side after the first step above 768: the two steps together scale by 768/short.
  if (short * numerator > SHORT_SIDE * denominator) {
    numerator = SHORT_SIDE;
    denominator = short;
  }
  const tiles = (side: number) => Math.ceil((side * numerator) / (denominator * TILE));
  return BASE_TOKENS + TILE_TOKENS * tiles(width) * tiles(height);
}

/** The most an image of unknown size can cost at this detail (an image behind a URL). */
export function maxImageTokens(detail: ImageDetail): number {
  return detail === 'low' ? LOW_DETAIL_TOKENS : MAX_HIGH_DETAIL_TOKENS;
}

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** The image mode the provider checks: RGB or RGBA pass; the others are named for the message. */
  mode: 'RGB' | 'RGBA' | 'grayscale' | 'grayscale with alpha' | 'palette' | 'CMYK' | 'unknown';
}

export interface ImageProblem<Code extends IssueCode = ErrorCode> {
  code: Code;
  message: string;
  fix: string;
}

/** What a valid image part costs, and whether that is exact (a data URL) or an upper estimate (a URL). */
export interface ImageInfo {
  tokens: number;
  estimated: boolean;
  header?: ImageHeader;
}

export type ImageCheck = { ok: true; info: ImageInfo } | { ok: false; problem: ImageProblem };

const MEDIA_TYPES: Record<string, ImageFormat> = {
  'image/jpeg': 'jpeg',
  // Not a registered type, but common and what many tools write for JPEG.
  'image/jpg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
};
const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WEBP' };
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const fixFormat = 'Convert the image to JPEG, PNG or WEBP (RGB or RGBA) and write its data URL again.';

/**
 * Checks one image URL as the provider would before training, and says what it costs. Data URLs are read
 * to their header; http(s) URLs cannot be fetched here, so they are accepted at their largest cost.
 */
export function checkImageUrl(url: string, detail: ImageDetail): ImageCheck {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    return { ok: true, info: { tokens: maxImageTokens(detail), estimated: true } };
  }
  if (scheme !== 'data') {
    return fail(
      'invalid_image',
      scheme
        ? `the image URL's scheme "${scheme}:" is not one the provider fetches`
        : 'the image URL is neither an http(s) URL nor a data URL',
      'Give the image as an https:// URL or as data:image/png;base64,... (JPEG, PNG or WEBP).',
    );
  }
  // Only the prefix is matched by a regular expression: the data after the comma can be 13 MB.
  const comma = url.indexOf(',');
  const prefix = comma < 0 ? url.slice(0, 100) : url.slice(0, comma);
  const mediaType = /^data:([^;,]*)(?:;[^;,]*)*$/.exec(prefix)?.[1]?.toLowerCase() ?? '';
  if (comma < 0 || !/;base64$/i.test(prefix)) {
    return fail(
      'invalid_image',
      'the image data URL is not base64 ("data:image/...;base64,...")',
      'Write the image as data:image/png;base64,<the file in base64>.',
    );
  }
  const declared = MEDIA_TYPES[mediaType];
  if (!declared) {
    return fail(
      'unsupported_image_format',
      `the image is declared as "${mediaType || 'no media type'}"; fine-tuning takes JPEG, PNG or WEBP only`,
      fixFormat,
    );
  }
  const data = url.slice(comma + 1);
  if (data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data)) {
    return fail(
      'invalid_image',
      'the image data is not valid base64 (wrong characters, or a length that is not a multiple of 4)',
      'Encode the file with standard base64 (A-Z, a-z, 0-9, +, /, = padding), without line breaks.',
    );
  }
  const reader = new Base64Bytes(data);
  if (reader.size > MAX_IMAGE_BYTES) {
    return fail(
      'image_too_large',
      `the image is ${(reader.size / 1_000_000).toFixed(1)} MB; the provider takes images of at most 10 MB`,
      'Resize or recompress the image below 10 MB (images over 2048 px are scaled down anyway).',
    );
  }
  const header = readImageHeader(reader);
  if (!header) {
    return fail(
      'invalid_image',
      `the data is not a readable JPEG, PNG or WEBP image (declared ${FORMAT_NAMES[declared]})`,
      fixFormat,
    );
  }
  if (typeof header === 'string') {
    return fail(
      'unsupported_image_format',
      `the image is ${header}; fine-tuning takes JPEG, PNG or WEBP only`,
      fixFormat,
    );
  }
  if (header.format !== declared) {
    return fail(
      'unsupported_image_format',
      `the data URL says ${FORMAT_NAMES[declared]} (${mediaType}) but the bytes are ${FORMAT_NAMES[header.format]}`,
      `Write the data URL as data:image/${header.format};base64,... or convert the image to ${FORMAT_NAMES[declared]}.`,
    );
  }
  if (header.width === 0 || header.height === 0) {
    return fail('invalid_image', 'the image has no pixels (a width or height of 0)', fixFormat);
  }
  if (header.mode !== 'RGB' && header.mode !== 'RGBA') {
    return fail(
      'unsupported_image_mode',
      `the ${FORMAT_NAMES[header.format]} image is ${header.mode}; the provider takes RGB or RGBA images only`,
      'Convert the image to RGB (or RGBA), e.g. with Pillow: image.convert("RGB").',
    );
  }
  return {
    ok: true,
    info: { tokens: imageTokens(header.width, header.height, detail), estimated: false, header },
  };
}

function fail(code: ErrorCode, message: string, fix: string): ImageCheck {
  return { ok: false, problem: { code, message, fix } };
}

/** Bytes of a base64 text, decoded only where asked for. */
export class Base64Bytes {
  /** The decoded length, from the text's length and padding. */
  readonly size: number;
  constructor(private readonly text: string) {
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    this.size = (text.length / 4) * 3 - padding;
  }

  /** Up to `length` bytes from `offset` (fewer at the end); decodes only the 4-character groups they span. */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    if (offset < 0 || offset >= end) return new Uint8Array(0);
    const first = Math.floor(offset / 3);
    const last = Math.ceil(end / 3);
    const bytes = Buffer.from(this.text.slice(first * 4, last * 4), 'base64');
    return bytes.subarray(offset - first * 3, end - first * 3);
  }
}

/** Anything that gives bytes at an offset: a Base64Bytes, or a plain array (tests). */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * The format, size and mode of a JPEG, PNG or WEBP image from its header; a string naming another format
 * it recognises (GIF, BMP, ...); undefined when the bytes are no image it knows or are cut short.
 */
export function readImageHeader(source: ByteSource): ImageHeader | string | undefined {
  const head = source.read(0, 32);
  const at = (i: number) => head[i] ?? -1;
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (at(0) === 0x89 && ascii(1, 4) === 'PNG' && at(4) === 0x0d && at(5) === 0x0a) return readPng(head);
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return readJpeg(source);
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return readWebp(head);
  if (ascii(0, 4) === 'GIF8') return 'a GIF';
  if (ascii(0, 2) === 'BM') return 'a BMP';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'a TIFF';
  if (ascii(4, 8) === 'ftyp') return 'an HEIF/AVIF';
  return undefined;
}

const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32be = (b: Uint8Array, i: number) =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);

/** PNG: the 8-byte signature, then the IHDR chunk (width, height, bit depth, colour type). */
function readPng(head: Uint8Array): ImageHeader | undefined {
  if (head.length < 26 || String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR') return undefined;
  const modes: Record<number, ImageHeader['mode']> = {
    0: 'grayscale',
    2: 'RGB',
    3: 'palette',
    4: 'grayscale with alpha',
    6: 'RGBA',
  };
  return {
    format: 'png',
    width: u32be(head, 16),
    height: u32be(head, 20),
    mode: modes[head[25]!] ?? 'unknown',
  };
}

/**
 * JPEG: segments from the SOI marker, each skipped by its length, up to the first start-of-frame (SOF0-15
 * but DHT, JPG and DAC), which holds height, width and the number of components: 1 grey, 3 colour
 * (YCbCr or RGB, opened as RGB), 4 CMYK. Bounded: a file of segments that never reaches a frame is cut off.
 */
function readJpeg(source: ByteSource): ImageHeader | undefined {
  let offset = 2;
  for (let segments = 0; segments < 4096; segments++) {
    const marker = source.read(offset, 10);
    if (marker.length < 4 || marker[0] !== 0xff) return undefined;
    const type = marker[1]!;
    // Fill bytes (0xFF) may pad before a marker.
    if (type === 0xff) {
      offset += 1;
      continue;
    }
    // Markers without a length (RST0-7, TEM).
    if ((type >= 0xd0 && type <= 0xd7) || type === 0x01) {
      offset += 2;
      continue;
    }
    if (type === 0xd9 || type === 0xda) return undefined; // end of image, or scan data before any frame
    const length = u16be(marker, 2);
    if (length < 2) return undefined;
    const isFrame = type >= 0xc0 && type <= 0xcf && type !== 0xc4 && type !== 0xc8 && type !== 0xcc;
    if (isFrame) {
      const frame = source.read(offset + 4, 6);
      if (frame.length < 6) return undefined;
      const components = frame[5]!;
      const mode: ImageHeader['mode'] =
        components === 3 ? 'RGB' : components === 1 ? 'grayscale' : components === 4 ? 'CMYK' : 'unknown';
      return { format: 'jpeg', height: u16be(frame, 1), width: u16be(frame, 3), mode };
    }
    offset += 2 + length;
  }
  return undefined;
}

/**
 * WEBP: a RIFF container whose first chunk is VP8 (lossy: always colour), VP8L (lossless: a flag says
 * whether alpha is used) or VP8X (extended: a flag for alpha, and the canvas size).
 */
function readWebp(head: Uint8Array): ImageHeader | undefined {
  const chunk = String.fromCharCode(...head.subarray(12, 16));
  // Each chunk's header needs its own number of bytes: VP8L 25, VP8 and VP8X 30.
  if (head.length < (chunk === 'VP8L' ? 25 : 30)) return undefined;
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes), then the start code 9D 01 2A, then 14-bit width and height.
    if (head[23] !== 0x9d || head[24] !== 0x01 || head[25] !== 0x2a) return undefined;
    return { format: 'webp', width: u16le(head, 26) & 0x3fff, height: u16le(head, 28) & 0x3fff, mode: 'RGB' };
  }
  if (chunk === 'VP8L') {
    if (head[20] !== 0x2f) return undefined;
    const bits = (head[21]! | (head[22]! << 8) | (head[23]! << 16) | (head[24]! << 24)) >>> 0;
    const width = (bits & 0x3fff) + 1;
    const height = ((bits >>> 14) & 0x3fff) + 1;
    const alpha = (bits >>> 28) & 1;
    return { format: 'webp', width, height, mode: alpha ? 'RGBA' : 'RGB' };
  }
  if (chunk === 'VP8X') {
    const alpha = (head[20]! & 0x10) !== 0;
    return {
      format: 'webp',
      width: u24le(head, 24) + 1,
      height: u24le(head, 27) + 1,
      mode: alpha ? 'RGBA' : 'RGB',
    };
  }
  return undefined;
}

/**
 * Checked image parts, remembered by the `image_url` object of the parsed example, so that counting
 * tokens later reads the result instead of the header again. Weak: forgotten with the example.
 */
const checked = new WeakMap<object, ImageInfo>();

export function rememberImage(imageUrl: object, info: ImageInfo): void {
  checked.set(imageUrl, info);
}

/** The cost of an image part already checked; an unchecked one is read now. */
export function imageInfoOf(imageUrl: { url?: unknown; detail?: unknown }): ImageInfo {
  const known = checked.get(imageUrl);
  if (known) return known;
  const detail = isDetail(imageUrl.detail) ? imageUrl.detail : 'auto';
  const result = typeof imageUrl.url === 'string' ? checkImageUrl(imageUrl.url, detail) : undefined;
  // An invalid image never reaches counting (the line is refused); if one does, count its largest cost.
  const info = result?.ok ? result.info : { tokens: maxImageTokens(detail), estimated: true };
  checked.set(imageUrl, info);
  return info;
}

export function isDetail(value: unknown): value is ImageDetail {
  return value === 'low' || value === 'high' || value === 'auto';
}

/** The images of a file, for the report: counted as examples finish (tokens.ts gives each one's). */
export interface ImageSummary {
  examplesWithImages: number;
  images: number;
  /** Included in the token totals. */
  tokens: number;
  /** Images given as URLs: not read, so counted at the most an image can cost. */
  estimatedImages: number;
  /** The part of `tokens` that is such an upper estimate. */
  estimatedTokens: number;
}

export class ImageTally {
  private readonly summary: ImageSummary = {
    examplesWithImages: 0,
    images: 0,
    tokens: 0,
    estimatedImages: 0,
    estimatedTokens: 0,
  };

  add(example: Omit<ImageSummary, 'examplesWithImages'> | undefined): void {
    if (!example || example.images === 0) return;
    this.summary.examplesWithImages++;
    this.summary.images += example.images;
    this.summary.tokens += example.tokens;
    this.summary.estimatedImages += example.estimatedImages;
    this.summary.estimatedTokens += example.estimatedTokens;
  }

  /** Undefined for a file without images, so that text reports stay as they were. */
  report(): ImageSummary | undefined {
    return this.summary.images > 0 ? { ...this.summary } : undefined;
  }

  /** The per-file limit on examples with images (text examples are not counted). */
  fileError(): ImageProblem | undefined {
    const count = this.summary.examplesWithImages;
    if (count <= MAX_EXAMPLES_WITH_IMAGES) return undefined;
    return {
      code: 'too_many_image_examples',
      message: `the file has ${count} examples with images; the provider takes at most ${MAX_EXAMPLES_WITH_IMAGES.toLocaleString('en-US')} per training file`,
      fix: `Keep at most ${MAX_EXAMPLES_WITH_IMAGES.toLocaleString('en-US')} examples with images, or split the training into several jobs.`,
    };
  }

  /** Image URLs cannot be read before training: their cost is the most it can be, and the report says so. */
  estimateWarning(): ImageProblem<WarningCode> | undefined {
    const { estimatedImages, estimatedTokens } = this.summary;
    if (estimatedImages === 0) return undefined;
    return {
      code: 'image_tokens_estimated',
      message: `${estimatedImages} image${estimatedImages === 1 ? ' is a URL' : 's are URLs'}, which tunedrop does not fetch: ${estimatedTokens} of the tokens (and the cost) are an upper estimate, the most such images can cost`,
      fix: 'For an exact cost, give the images as base64 data URLs, or set "detail": "low" (85 tokens an image).',
    };
  }
}
