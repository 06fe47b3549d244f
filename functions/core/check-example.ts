import { bedrockExampleProblems } from './bedrock-rules.js';
import type { ModelInfo } from './catalog.js';
import {
  checkChatExample,
  checkPreferenceExample,
  checkPromptCompletion,
  FORMAT_NAMES,
  type CheckedExample,
  type CheckResult,
  type DatasetFormat,
} from './formats.js';
import type { IssueList } from './issue-list.js';
import type { WarningCode } from './issue-codes.js';
import {
  CommonSuffix,
  convertPromptCompletion,
  type ConversionChanges,
  type LegacyMarkers,
} from './legacy.js';
import { describeSecretKinds, findSecrets } from './secrets.js';

export type SecretScan = 'error' | 'warning' | 'off';

/** An example that passed its checks, with the JSON text that identifies it (what the split hashes). */
export interface AcceptedExample {
  example: CheckedExample;
  canonical: string;
}

/**
 * Step 3, checking an example: credentials, one format for the whole file, the format's own rules
 * (formats.ts and the modules it uses), and, when converting a legacy file, the conversion. Keeps what
 * the whole file needs afterwards: its format, the legacy markers and conversion counts, the size of
 * the converted file, and the advice given at single lines.
 */
export class ExampleChecker {
  /** The file's format: the first line's (chat, when converting). */
  format: DatasetFormat | undefined;
  /** Legacy prompt/completion lines seen on the first pass (valid ones). */
  legacyExamples = 0;
  readonly prompts = new CommonSuffix();
  readonly completions = new CommonSuffix();
  readonly changes: ConversionChanges = { separatorStripped: 0, endTokenStripped: 0, leadingSpaceRemoved: 0 };
  /** Bytes of the file Prepare will upload after conversion. */
  convertedBytes = 0;
  private mixedReported = false;
  private readonly secretScan: SecretScan;

  constructor(
    private readonly model: ModelInfo,
    private readonly issues: IssueList,
    /** Advice at one line; the scan lists the first few and counts the rest. */
    private readonly warnAt: (code: WarningCode, message: string, fix: string, line: number) => void,
    secretScan: SecretScan | undefined,
    /** The markers to strip when this pass converts a legacy file to chat. */
    private readonly convert: LegacyMarkers | undefined,
  ) {
    this.format = convert ? 'chat' : undefined;
    this.secretScan = secretScan ?? 'error';
  }

  check(
    object: Record<string, unknown>,
    lineFormat: DatasetFormat,
    text: string,
    line: number,
  ): AcceptedExample | undefined {
    this.scanForSecrets(object, text, line);
    this.format ??= lineFormat;
    const format = this.format;
    if (lineFormat !== format && !(this.convert && lineFormat === 'prompt_completion')) {
      if (this.mixedReported) this.issues.countOnly();
      else {
        this.issues.error(
          'mixed_formats',
          `this line is ${FORMAT_NAMES[lineFormat]}, but the file began as ${FORMAT_NAMES[format]}`,
          undefined,
          line,
        );
        this.mixedReported = true;
      }
      return undefined;
    }
    if (format === 'prompt_completion') {
      // First pass over a legacy file: its lines are checked and its markers found, nothing counted yet.
      const legacy = checkPromptCompletion(object);
      for (const problem of legacy.problems)
        this.issues.error(problem.code, problem.message, problem.fix, line);
      if (legacy.prompt !== undefined && legacy.completion !== undefined) {
        this.prompts.add(legacy.prompt);
        this.completions.add(legacy.completion);
        this.legacyExamples++;
      }
      return undefined;
    }
    let checked: CheckResult;
    let canonical: string;
    if (this.convert) {
      const legacy = checkPromptCompletion(object);
      const converted = convertPromptCompletion(
        legacy.prompt ?? '',
        legacy.completion ?? '',
        this.convert,
        this.changes,
      );
      checked = checkChatExample(converted, { model: this.model });
      canonical = JSON.stringify(converted);
      // Prepare uploads these lines, not the user's: the provider's file limit applies to them.
      this.convertedBytes += Buffer.byteLength(canonical) + 1;
    } else {
      const context = { model: this.model, line: text };
      checked =
        format === 'chat' ? checkChatExample(object, context) : checkPreferenceExample(object, context);
      canonical = JSON.stringify(object);
    }
    // The model's own record format (Bedrock), on what passed the chat checks: its messages are known good.
    const formatProblems =
      checked.example && format === 'chat'
        ? bedrockExampleProblems(this.convert ? {} : object, checked.example.messages, this.model)
        : [];
    for (const problem of [...checked.problems, ...formatProblems])
      this.issues.error(problem.code, problem.message, problem.fix, line);
    if (formatProblems.length > 0) return undefined;
    for (const warning of checked.warnings) this.warnAt(warning.code, warning.message, warning.fix, line);
    return checked.example ? { example: checked.example, canonical } : undefined;
  }

  private scanForSecrets(object: Record<string, unknown>, text: string, line: number) {
    if (this.secretScan === 'off') return;
    const secret = findSecrets(object, text);
    if (!secret) return;
    // Names the kind and the place, never the text: the report is read by more people than the data.
    const message = `the example contains what looks like ${describeSecretKinds(secret.kinds)} (in ${secret.path}); it is not repeated here`;
    if (this.secretScan === 'error') {
      this.issues.error(
        'secret_in_data',
        message,
        'Remove the credential from the example and revoke it: a fine-tuned model can repeat what it was trained on. If it is a deliberate fake, set "secretScan": "warning" in tunedrop.json.',
        line,
      );
    } else {
      this.warnAt(
        'possible_secret',
        message,
        'Remove credentials from training data: a fine-tuned model can repeat them.',
        line,
      );
    }
  }
}
