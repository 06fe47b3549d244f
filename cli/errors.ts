/** The CLI's failures, in a module with no imports so main.ts can tell them apart without loading a command. */

/** Checking the file crashed: a bug in tunedrop, reported as such with exit code 3. */
export class InternalValidationError extends Error {
  constructor(
    readonly file: string,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? `${original.name}: ${original.message}` : String(original));
  }
}

/** A function answered with an error (FunctionError): its own message, for the operator. Exit 1. */
export class FunctionFailedError extends Error {}

/** The cloud answered something the command cannot use. Exit 1. */
export class CommandFailedError extends Error {}
