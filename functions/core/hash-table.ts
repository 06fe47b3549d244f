/**
 * A fixed-memory set of 53-bit hashes, each with the line it was first seen on: open addressing over
 * typed arrays, growing up to a cap. Finding duplicates in a file of millions of lines this way costs
 * 12 bytes a slot instead of the ~80 of a Map entry; past the cap, new hashes are not remembered (and
 * their duplicates not reported), so memory stays bounded whatever the file size.
 */
export class FirstLineByHash {
  private keys: Float64Array;
  private lines: Uint32Array;
  private size = 0;

  constructor(
    initialSlots = 1 << 14,
    private readonly maxSlots = 1 << 23,
  ) {
    this.keys = new Float64Array(initialSlots).fill(-1);
    this.lines = new Uint32Array(initialSlots);
  }

  /** The line the hash was first seen on; otherwise remembers it on `line` and returns undefined. */
  firstOrRemember(hash: number, line: number): number | undefined {
    const found = this.find(hash);
    if (this.keys[found] === hash) return this.lines[found];
    if ((this.size + 1) * 10 > this.keys.length * 7) {
      if (this.keys.length >= this.maxSlots) return undefined;
      this.grow();
      return this.firstOrRemember(hash, line);
    }
    this.keys[found] = hash;
    this.lines[found] = line;
    this.size++;
    return undefined;
  }

  private find(hash: number): number {
    const mask = this.keys.length - 1;
    // The hash is already uniform; its low bits pick the slot.
    let slot = (hash % this.keys.length) & mask;
    while (this.keys[slot] !== -1 && this.keys[slot] !== hash) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, lines } = this;
    this.keys = new Float64Array(keys.length * 2).fill(-1);
    this.lines = new Uint32Array(keys.length * 2);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== -1) {
        const slot = this.find(keys[i]!);
        this.keys[slot] = keys[i]!;
        this.lines[slot] = lines[i]!;
        this.size++;
      }
    }
  }
}
