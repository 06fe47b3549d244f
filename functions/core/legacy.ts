import type { ChatMessage } from './formats.js';

/**
 * The legacy prompt/completion format of the 2023 guide: each prompt ended with a fixed separator
 * (often "\n\n###\n\n" or " ->"), each completion began with a space and ended with a fixed stop
 * sequence (often "\n" or " END"). Chat models need none of it, so conversion strips them.
 *
 * The separator and end token are found as the longest suffix every prompt (completion) shares, but
 * only when it looks like a marker (whitespace, #, ->, =, |, END, STOP, <|endoftext|>), so that a
 * question mark every prompt happens to end with is not mistaken for one.
 */
export interface LegacyMarkers {
  separator: string;
  endToken: string;
}

const MARKER = /^(\s|#|-|>|=|\||:|END|STOP|<\|endoftext\|>)*$/;

export class CommonSuffix {
  private suffix: string | undefined;

  add(text: string): void {
    if (this.suffix === undefined) {
      this.suffix = text;
      return;
    }
    let n = 0;
    const max = Math.min(this.suffix.length, text.length);
    while (n < max && this.suffix[this.suffix.length - 1 - n] === text[text.length - 1 - n]) n++;
    this.suffix = this.suffix.slice(this.suffix.length - n);
  }

  /** The shared suffix, trimmed from the left to the part that looks like a marker. */
  marker(): string {
    const suffix = this.suffix ?? '';
    for (let start = 0; start < suffix.length; start++) {
      const candidate = suffix.slice(start);
      if (MARKER.test(candidate)) return candidate;
    }
    return '';
  }
}

export interface ConversionChanges {
  separatorStripped: number;
  endTokenStripped: number;
  leadingSpaceRemoved: number;
}

export function convertPromptCompletion(
  prompt: string,
  completion: string,
  markers: LegacyMarkers,
  changes: ConversionChanges,
): { messages: ChatMessage[] } {
  let user = prompt;
  let answer = completion;
  if (markers.separator && user.endsWith(markers.separator)) {
    user = user.slice(0, -markers.separator.length);
    changes.separatorStripped++;
  }
  if (markers.endToken && answer.endsWith(markers.endToken)) {
    answer = answer.slice(0, -markers.endToken.length);
    changes.endTokenStripped++;
  }
  if (answer.startsWith(' ')) {
    answer = answer.slice(1);
    changes.leadingSpaceRemoved++;
  }
  return {
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: answer },
    ],
  };
}
