/**
 * What the first bytes of a file say about it. OpenAI wants UTF-8 JSONL without a byte order mark;
 * anything else gets its own name, because "invalid JSON on line 1" does not tell a person that their
 * editor saved UTF-16 or that the file is still gzipped.
 */
export type FileKind = 'text' | 'utf8_bom' | 'utf16' | 'utf32' | 'gzip' | 'zip' | 'binary';

export function sniffFileKind(head: Uint8Array): FileKind {
  const at = (i: number) => head[i];
  if (at(0) === 0x1f && at(1) === 0x8b) return 'gzip';
  if (at(0) === 0x50 && at(1) === 0x4b && at(2) === 0x03 && at(3) === 0x04) return 'zip';
  if (
    (at(0) === 0xff && at(1) === 0xfe && at(2) === 0 && at(3) === 0) ||
    (at(0) === 0 && at(1) === 0 && at(2) === 0xfe && at(3) === 0xff)
  )
    return 'utf32';
  if ((at(0) === 0xff && at(1) === 0xfe) || (at(0) === 0xfe && at(1) === 0xff)) return 'utf16';
  if (at(0) === 0xef && at(1) === 0xbb && at(2) === 0xbf) return 'utf8_bom';
  const sample = head.subarray(0, 4096);
  // UTF-16 without a BOM shows as every other byte NUL in ASCII-heavy text.
  let nuls = 0;
  for (const byte of sample) if (byte === 0) nuls++;
  if (nuls > 0 && nuls >= sample.length / 4) return 'utf16';
  if (nuls > 0) return 'binary';
  return 'text';
}

export const FILE_KIND_PROBLEMS: Record<Exclude<FileKind, 'text'>, { message: string; fix: string }> = {
  utf8_bom: {
    message: 'the file starts with a UTF-8 byte order mark (BOM), which OpenAI rejects',
    fix: 'Save the file as "UTF-8" rather than "UTF-8 with BOM" (or strip the first 3 bytes).',
  },
  utf16: {
    message: 'the file is UTF-16 text, not UTF-8',
    fix: 'Save it as UTF-8 (for example: iconv -f UTF-16 -t UTF-8 in.jsonl > out.jsonl).',
  },
  utf32: {
    message: 'the file is UTF-32 text, not UTF-8',
    fix: 'Save it as UTF-8 (for example: iconv -f UTF-32 -t UTF-8 in.jsonl > out.jsonl).',
  },
  gzip: {
    message: 'the file is gzip-compressed',
    fix: 'Decompress it (gunzip) and upload the .jsonl itself.',
  },
  zip: {
    message: 'the file is a zip archive',
    fix: 'Unzip it and upload the .jsonl inside.',
  },
  binary: {
    message: 'the file holds binary data (NUL bytes), not text',
    fix: 'Upload the JSONL text file itself.',
  },
};
