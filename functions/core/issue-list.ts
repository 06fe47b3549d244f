import { ISSUE_CODES, type ErrorCode, type IssueCode, type WarningCode } from './issue-codes.js';

export interface DatasetIssue {
  code: IssueCode;
  severity: 'error' | 'warning';
  /** The file it is in, when a run checks more than one (a supplied validation file). */
  file?: string;
  /** 1-based line in the user's file; absent for whole-file issues. */
  line?: number;
  /**
   * Set when the same problem repeats on consecutive lines: one row stands for lines `line` to
   * `lastLine`, `times` problems in all.
   */
  lastLine?: number;
  times?: number;
  message: string;
  fix: string;
}

/** Reports list this many problems of each severity; the counts stay exact. */
export const MAX_LISTED_ISSUES = 100;

/**
 * The problems found so far, in line order, with their exact counts. The same problem on consecutive
 * lines (same code, message and fix) is one row, so 500 broken lines in a row do not push every other
 * problem out of the listed hundred.
 */
export class IssueList {
  readonly errors: DatasetIssue[] = [];
  readonly warnings: DatasetIssue[] = [];
  errorCount = 0;
  warningCount = 0;

  error(code: ErrorCode, message: string, fix: string = ISSUE_CODES[code].fix, line?: number): void {
    this.errorCount += 1;
    this.append(this.errors, issue(code, message, fix, line));
  }

  /** A whole-file problem goes first: it explains the rest. */
  fileError(code: ErrorCode, message: string, fix: string = ISSUE_CODES[code].fix, line?: number): void {
    this.errorCount += 1;
    this.errors.unshift(issue(code, message, fix, line));
    if (this.errors.length > MAX_LISTED_ISSUES) this.errors.pop();
  }

  /** Errors found after later lines were read (token limits): merged back into line order at the end. */
  private readonly late: DatasetIssue[] = [];
  lateError(code: ErrorCode, message: string, fix: string, line: number): void {
    this.errorCount += 1;
    this.append(this.late, issue(code, message, fix, line));
  }

  mergeLateErrors(): void {
    if (this.late.length === 0) return;
    const merged = [...this.errors, ...this.late].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    this.errors.splice(0, this.errors.length, ...merged.slice(0, MAX_LISTED_ISSUES));
    this.late.length = 0;
  }

  /** An error that is counted but not listed (later lines of a problem reported once). */
  countOnly(): void {
    this.errorCount += 1;
  }

  warning(code: WarningCode, message: string, fix: string = ISSUE_CODES[code].fix, line?: number): void {
    this.warningCount += 1;
    this.append(this.warnings, issue(code, message, fix, line));
  }

  /** Warnings that are counted but were not listed (copies past the first few, advice past 20 lines). */
  countUnlisted(warnings: number): void {
    this.warningCount += warnings;
  }

  private append(list: DatasetIssue[], next: DatasetIssue): void {
    const last = list.at(-1);
    if (
      last &&
      next.line !== undefined &&
      last.line !== undefined &&
      next.line === (last.lastLine ?? last.line) + 1 &&
      last.code === next.code &&
      last.message === next.message &&
      last.fix === next.fix
    ) {
      last.lastLine = next.line;
      last.times = (last.times ?? 1) + 1;
      return;
    }
    if (list.length < MAX_LISTED_ISSUES) list.push(next);
  }
}

export function issue(code: IssueCode, message: string, fix: string, line?: number): DatasetIssue {
  const severity = ISSUE_CODES[code].severity;
  return line === undefined ? { code, severity, message, fix } : { code, severity, line, message, fix };
}

/** Where an issue is, for people: "line 7", or "lines 3–502 (500 times)". */
export function whereIs(issue: Pick<DatasetIssue, 'line' | 'lastLine' | 'times'>): string {
  if (issue.line === undefined) return '';
  if (issue.lastLine === undefined) return `line ${issue.line}`;
  return `lines ${issue.line}–${issue.lastLine} (${issue.times ?? issue.lastLine - issue.line + 1} times)`;
}
