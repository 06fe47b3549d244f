import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { findModel, MODEL_CATALOG, modelsTrainingOn } from '../../functions/core/catalog.js';
import { validateDataset, type ValidationOptions } from '../../functions/core/dataset.js';
import {
  Base64Bytes,
  checkImageUrl,
  ImageTally,
  imageTokens,
  MAX_EXAMPLES_WITH_IMAGES,
  MAX_HIGH_DETAIL_TOKENS,
  readImageHeader,
  bytesSource,
  type ImageDetail,
} from '../../functions/core/images.js';
import { countExampleTokens } from '../../functions/core/tokens.js';

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/corpus/real');
const VISION_FILE = join(CORPUS, 'msfoundry_chartqa_vision_validation.jsonl');

const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const le16 = (n: number) => [n & 255, (n >>> 8) & 255];
const le24 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255];
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** A PNG signature and IHDR chunk (with its CRC), as an encoder writes them. */
function png(width: number, height: number, colourType: number): Uint8Array {
  const ihdr = Uint8Array.from([...ascii('IHDR'), ...be32(width), ...be32(height), 8, colourType, 0, 0, 0]);
  return Uint8Array.from([
    0x89,
    ...ascii('PNG'),
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...be32(13),
    ...ihdr,
    ...be32(crc32(ihdr)),
  ]);
}

/** SOI, an APP0 (JFIF) segment, optionally a large APP1 to skip, and a baseline SOF0 frame header. */
function jpeg(width: number, height: number, components: number, app1Bytes = 0): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, ...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const app1 = app1Bytes
    ? [0xff, 0xe1, ...[(app1Bytes + 2) >> 8, (app1Bytes + 2) & 255], ...new Array<number>(app1Bytes).fill(7)]
    : [];
  const sof = [
    0xff,
    0xc0,
    0,
    8 + 3 * components,
    8,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    components,
    ...Array.from({ length: components }, (_, i) => [i + 1, 0x11, 0]).flat(),
  ];
  return Uint8Array.from([0xff, 0xd8, ...app0, ...app1, ...sof, 0xff, 0xd9]);
}

function webp(chunk: 'VP8 ' | 'VP8L' | 'VP8X', width: number, height: number, alpha = false): Uint8Array {
  let body: number[];
  if (chunk === 'VP8 ') body = [0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, ...le16(width), ...le16(height)];
  else if (chunk === 'VP8L') {
    const bits = ((width - 1) | ((height - 1) << 14) | ((alpha ? 1 : 0) << 28)) >>> 0;
    body = [0x2f, ...le16(bits & 0xffff), ...le16(bits >>> 16)];
  } else body = [alpha ? 0x10 : 0, 0, 0, 0, ...le24(width - 1), ...le24(height - 1)];
  const payload = [...ascii('WEBP'), ...ascii(chunk), ...be32(body.length).reverse(), ...body];
  return Uint8Array.from([...ascii('RIFF'), ...be32(payload.length).reverse(), ...payload]);
}

const dataUrl = (type: string, bytes: Uint8Array) =>
  `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;

/** The guide's steps read literally, in floating point, with tiles counted one by one. */
function referenceTokens(width: number, height: number, detail: ImageDetail): number {
  if (detail === 'low') return 85;
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shorten = Math.min(1, 768 / Math.min(w, h));
  w *= shorten;
  h *= shorten;
  const tilesAlong = (side: number) => {
    let tiles = 0;
    // A side that ends within a rounding error of a tile edge fills that tile exactly.
    while (tiles * 512 < side - 1e-6) tiles++;
    return tiles;
  };
  return 85 + 170 * tilesAlong(w) * tilesAlong(h);
}

describe('image tokens', () => {
  it("match the guide's worked examples", () => {
    expect(imageTokens(1024, 1024, 'high')).toBe(765);
    expect(imageTokens(2048, 4096, 'high')).toBe(1105);
    expect(imageTokens(4096, 8192, 'low')).toBe(85);
  });

  it('count "auto" as "high", the larger of the two', () => {
    expect(imageTokens(1024, 1024, 'auto')).toBe(765);
    expect(imageTokens(300, 200, 'auto')).toBe(255);
  });

  it('never scale a small image up', () => {
    expect(imageTokens(512, 512, 'high')).toBe(255);
    expect(imageTokens(513, 100, 'high')).toBe(425);
  });

  it('agree with a literal reading of the guide for any size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.constantFrom<ImageDetail>('low', 'high', 'auto'),
        (width, height, detail) => {
          expect(imageTokens(width, height, detail)).toBe(referenceTokens(width, height, detail));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('never exceed the bound used for images behind URLs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), (w, h) => {
        expect(imageTokens(w, h, 'high')).toBeLessThanOrEqual(MAX_HIGH_DETAIL_TOKENS);
      }),
    );
    expect(imageTokens(768, 2048, 'high')).toBe(MAX_HIGH_DETAIL_TOKENS);
  });
});

describe('image headers', () => {
  it.each([
    [2, 'RGB'],
    [6, 'RGBA'],
    [0, 'grayscale'],
    [3, 'palette'],
    [4, 'grayscale with alpha'],
  ])('read a PNG of colour type %i as %s', (colourType, mode) => {
    expect(readImageHeader(bytesSource(png(640, 480, colourType)))).toEqual({
      format: 'png',
      width: 640,
      height: 480,
      mode,
    });
  });

  it.each([
    [3, 'RGB'],
    [1, 'grayscale'],
    [4, 'CMYK'],
  ])('read a JPEG of %i components as %s', (components, mode) => {
    expect(readImageHeader(bytesSource(jpeg(1920, 1080, components)))).toEqual({
      format: 'jpeg',
      width: 1920,
      height: 1080,
      mode,
    });
  });

  it('skip a large segment before the JPEG frame without decoding it', () => {
    const bytes = jpeg(800, 600, 3, 60_000);
    const url = dataUrl('image/jpeg', bytes);
    const reader = new Base64Bytes(url.slice(url.indexOf(',') + 1));
    let decoded = 0;
    const counting = {
      size: reader.size,
      read: (offset: number, length: number) => {
        decoded += length;
        return reader.read(offset, length);
      },
    };
    expect(readImageHeader(counting)).toMatchObject({ width: 800, height: 600, mode: 'RGB' });
    expect(decoded).toBeLessThan(100);
  });

  it.each([
    ['VP8 ', false, 'RGB'],
    ['VP8L', false, 'RGB'],
    ['VP8L', true, 'RGBA'],
    ['VP8X', false, 'RGB'],
    ['VP8X', true, 'RGBA'],
  ] as const)('read a WEBP with a %s chunk (alpha %s) as %s', (chunk, alpha, mode) => {
    expect(readImageHeader(bytesSource(webp(chunk, 1000, 700, alpha)))).toEqual({
      format: 'webp',
      width: 1000,
      height: 700,
      mode,
    });
  });

  it('name formats the provider refuses, and know nothing of random bytes', () => {
    expect(readImageHeader(bytesSource(Uint8Array.from(ascii('GIF89a\x01\x00\x01\x00'))))).toBe('a GIF');
    expect(readImageHeader(bytesSource(Uint8Array.from([1, 2, 3])))).toBeUndefined();
  });

  it('decode only the base64 groups a read spans, the same bytes as a whole decode', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.nat({ max: 40 }),
        (bytes, start, length) => {
          const reader = new Base64Bytes(Buffer.from(bytes).toString('base64'));
          const offset = start % bytes.length;
          expect(reader.size).toBe(bytes.length);
          expect([...reader.read(offset, length)]).toEqual([...bytes.subarray(offset, offset + length)]);
        },
      ),
    );
  });
});

describe('image URLs', () => {
  it('cost exactly what their size and detail say when given as data', () => {
    expect(checkImageUrl(dataUrl('image/png', png(1024, 1024, 2)), 'high')).toEqual({
      ok: true,
      info: expect.objectContaining({ tokens: 765, estimated: false }),
    });
    expect(checkImageUrl(dataUrl('image/jpeg', jpeg(2048, 4096, 3)), 'auto')).toMatchObject({
      info: { tokens: 1105 },
    });
    expect(checkImageUrl(dataUrl('image/webp', webp('VP8X', 4096, 8192)), 'low')).toMatchObject({
      info: { tokens: 85 },
    });
  });

  it('are accepted over http(s) at the most an image can cost, marked as an estimate', () => {
    expect(checkImageUrl('https://example.com/a.png', 'auto')).toEqual({
      ok: true,
      info: { tokens: MAX_HIGH_DETAIL_TOKENS, estimated: true },
    });
    expect(checkImageUrl('http://example.com/a.png', 'low')).toMatchObject({ info: { tokens: 85 } });
  });

  it.each([
    ['another scheme', 'ftp://example.com/a.png', 'invalid_image'],
    ['no scheme', 'example.com/a.png', 'invalid_image'],
    ['a data URL not in base64', 'data:image/png,abc', 'invalid_image'],
    ['broken base64', 'data:image/png;base64,iVBO*w0K', 'invalid_image'],
    ['bytes that are no image', dataUrl('image/png', Uint8Array.from([1, 2, 3, 4, 5, 6])), 'invalid_image'],
    ['a cut-off header', dataUrl('image/png', png(10, 10, 2).subarray(0, 20)), 'invalid_image'],
    [
      'a GIF',
      dataUrl('image/gif', Uint8Array.from(ascii('GIF89a\x01\x00\x01\x00'))),
      'unsupported_image_format',
    ],
    [
      'a GIF declared as PNG',
      dataUrl('image/png', Uint8Array.from(ascii('GIF89a\x01\x00\x01\x00'))),
      'unsupported_image_format',
    ],
    ['a JPEG declared as PNG', dataUrl('image/png', jpeg(10, 10, 3)), 'unsupported_image_format'],
    ['a palette PNG', dataUrl('image/png', png(10, 10, 3)), 'unsupported_image_mode'],
    ['a CMYK JPEG', dataUrl('image/jpeg', jpeg(10, 10, 4)), 'unsupported_image_mode'],
    ['a PNG of no pixels', dataUrl('image/png', png(0, 10, 2)), 'invalid_image'],
  ])('are refused for %s', (_name, url, code) => {
    expect(checkImageUrl(url, 'auto')).toMatchObject({ ok: false, problem: { code } });
  });

  it('are refused over 10 MB, measured from the base64 length without decoding it', () => {
    const header = Buffer.from(png(4000, 3000, 2)).toString('base64');
    const url = `data:image/png;base64,${header}${'A'.repeat(13_400_000 - header.length)}`;
    const started = performance.now();
    expect(checkImageUrl(url, 'auto')).toMatchObject({ ok: false, problem: { code: 'image_too_large' } });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never throw, whatever the bytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('image/png', 'image/jpeg', 'image/webp'),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 60 }).map((tail) => Uint8Array.from([0xff, 0xd8, 0xff, ...tail])),
          fc
            .uint8Array({ maxLength: 40 })
            .map((tail) => Uint8Array.from([...png(5, 5, 2).subarray(0, 16), ...tail])),
        ),
        (type, bytes) => {
          const result = checkImageUrl(dataUrl(type, bytes), 'auto');
          expect(typeof result.ok).toBe('boolean');
        },
      ),
    );
  });
});

describe('the catalog', () => {
  it("lets only gpt-4o-2024-08-06 train on images, per OpenAI's vision fine-tuning guide", () => {
    expect(modelsTrainingOn('image')).toEqual(['gpt-4o-2024-08-06']);
    expect(findModel('gpt-4o')!.sources.image?.url).toContain('vision-fine-tuning');
  });

  it('gives a source and the date read for every input beyond text and every method', () => {
    for (const model of MODEL_CATALOG) {
      expect(model.inputs).toContain('text');
      for (const key of [...model.methods, ...model.inputs.filter((input) => input !== 'text')]) {
        const source = model.sources[key as keyof typeof model.sources];
        expect(source?.url).toMatch(/^https:\/\//);
        expect(source?.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
    }
  });
});

describe('images in examples', () => {
  const vision: ValidationOptions = {
    model: findModel('gpt-4o-2024-08-06')!,
    seed: 42,
    validationRatio: 0.2,
    maxValidationExamples: 1000,
    nEpochs: 'auto',
  };
  const validate = (text: string, options: Partial<ValidationOptions> = {}) =>
    validateDataset(
      async function* () {
        yield new TextEncoder().encode(text);
      },
      { ...vision, ...options },
    );
  const line = (i: number, parts: unknown[], extra: unknown[] = []) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: [{ type: 'text', text: `What is in picture ${i}?` }, ...parts] },
        ...extra,
        { role: 'assistant', content: `A chart, number ${i}.` },
      ],
    });
  const image = (url: string, detail?: ImageDetail) => ({
    type: 'image_url',
    image_url: detail ? { url, detail } : { url },
  });
  const file = (make: (i: number) => string) =>
    `${Array.from({ length: 12 }, (_, i) => make(i)).join('\n')}\n`;

  it('count a data URL image at its fixed cost, never as base64 text', () => {
    const big = dataUrl('image/png', Uint8Array.from([...png(1024, 1024, 6), ...new Uint8Array(300_000)]));
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, image(big, 'high')] },
      { role: 'assistant', content: 'A square.' },
    ];
    const withImage = countExampleTokens(messages);
    const textOnly = countExampleTokens([
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }] },
      { role: 'assistant', content: 'A square.' },
    ]);
    expect(withImage.total - textOnly.total).toBe(765);
    expect(withImage.images).toEqual({ images: 1, tokens: 765, estimatedImages: 0, estimatedTokens: 0 });
  });

  it('report exact image tokens for data URLs, with no estimate', async () => {
    const report = await validate(
      file((i) => line(i, [image(dataUrl('image/webp', webp('VP8L', 512, 512)))])),
    );
    expect(report.verdict).toBe('valid');
    expect(report.tokens.images).toEqual({
      examplesWithImages: 12,
      images: 12,
      tokens: 12 * 255,
      estimatedImages: 0,
      estimatedTokens: 0,
    });
    expect(report.estimate.upperEstimate).toBeUndefined();
  });

  it('refuse more than 10 images in an example', async () => {
    const eleven = Array.from({ length: 11 }, () => image('https://example.com/a.png', 'low'));
    const report = await validate(file((i) => line(i, i === 4 ? eleven : eleven.slice(0, 10))));
    expect(report.errors.map((e) => [e.code, e.line])).toEqual([['too_many_images', 5]]);
  });

  it('refuse images outside user messages', async () => {
    const system = { role: 'system', content: [image('https://example.com/a.png')] };
    const report = await validate(
      file((i) =>
        i === 2
          ? JSON.stringify({
              messages: [system, { role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }],
            })
          : line(i, []),
      ),
    );
    expect(report.errors).toEqual([
      expect.objectContaining({
        code: 'invalid_content',
        line: 3,
        message: expect.stringMatching(/user messages/),
      }),
    ]);
  });

  it('refuse audio and files with the reason', async () => {
    const audio = { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } };
    const pdf = { type: 'file', file: { file_id: 'file-abc' } };
    const report = await validate(file((i) => line(i, i === 1 ? [audio] : i === 2 ? [pdf] : [])));
    expect(report.errors.map((e) => [e.code, e.line])).toEqual([
      ['unsupported_modality', 2],
      ['unsupported_modality', 3],
    ]);
    expect(report.errors[0]!.message).toMatch(/does not train on audio/);
  });

  it('refuse a detail other than low, high or auto', async () => {
    const report = await validate(
      file((i) =>
        line(i, [{ type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'max' } }]),
      ),
    );
    expect(report.errors[0]).toMatchObject({ code: 'invalid_content', line: 1 });
  });

  it('refuse images in preference examples: DPO trains on text only', async () => {
    const dpo = (i: number) =>
      JSON.stringify({
        input: {
          messages: [
            { role: 'user', content: [{ type: 'text', text: `q${i}` }, image('https://example.com/a.png')] },
          ],
        },
        preferred_output: [{ role: 'assistant', content: `good ${i}` }],
        non_preferred_output: [{ role: 'assistant', content: `bad ${i}` }],
      });
    const report = await validate(file(dpo));
    expect(report.errors[0]).toMatchObject({ code: 'images_not_supported', line: 1 });
  });

  it('count the file limit of examples with images, text examples aside', () => {
    const tally = new ImageTally();
    const one = { images: 1, tokens: 85, estimatedImages: 0, estimatedTokens: 0 };
    for (let i = 0; i < MAX_EXAMPLES_WITH_IMAGES; i++) tally.add(one);
    tally.add(undefined);
    tally.add({ ...one, images: 0, tokens: 0 });
    expect(tally.fileError()).toBeUndefined();
    tally.add(one);
    expect(tally.fileError()).toMatchObject({ code: 'too_many_image_examples' });
  });
});

describe('the real vision corpus file', () => {
  const validateWith = (model: string) =>
    validateDataset(() => createReadStream(VISION_FILE), {
      model: findModel(model)!,
      seed: 42,
      validationRatio: 0.2,
      maxValidationExamples: 1000,
      nEpochs: 'auto',
    });

  it('is valid for gpt-4o-2024-08-06, its URL images counted as an upper estimate', async () => {
    const report = await validateWith('gpt-4o-2024-08-06');
    expect(report.errors).toEqual([]);
    expect(report.verdict).toBe('valid');
    expect(report.tokens.images).toEqual({
      examplesWithImages: 20,
      images: 20,
      tokens: 20 * MAX_HIGH_DETAIL_TOKENS,
      estimatedImages: 20,
      estimatedTokens: 20 * MAX_HIGH_DETAIL_TOKENS,
    });
    expect(report.estimate.upperEstimate).toBe(true);
    expect(report.warnings.map((w) => w.code)).toContain('image_tokens_estimated');
  });

  it('is refused for gpt-4.1-mini, at its first image, naming the model that takes images', async () => {
    const report = await validateWith('gpt-4.1-mini');
    expect(report.verdict).toBe('invalid');
    expect(report.errors[0]).toMatchObject({
      code: 'images_not_supported',
      line: 1,
      message: expect.stringContaining('gpt-4.1-mini-2025-04-14'),
      fix: expect.stringContaining('gpt-4o-2024-08-06'),
    });
  });
});
