/** A call AWS refuses is the operator's permissions, not a bug. */
export function isAccessDenied(error: unknown): boolean {
  return /^AccessDenied(Exception)?$/.test((error as Error | undefined)?.name ?? '');
}

/** What to print when AWS refused a call: which one, and how to get the permission. */
export function refusalMessage(description: string, error: Error): string {
  return (
    `tunedrop: ${description} refused the call: ${error.message}\n` +
    `Fix: attach the stack's operator policy (stack output OperatorPolicyArn) to your IAM user or role; README "Deploy to AWS" lists what each command needs.\n`
  );
}
