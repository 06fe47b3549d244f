/**
 * Faults of the local Bedrock, switchable per test, like the OpenAI emulator's (local/openai-emulator/faults.ts).
 *
 * Request faults match an operation name and apply to its next `times` requests:
 *   throttle     answer 429 ThrottlingException without doing anything (a burst: times = N)
 *   status       answer with any error of the API's (a 500 InternalServerException, a 503
 *                ServiceUnavailableException, a 400 ServiceQuotaExceededException…) without doing anything
 *   reset        drop the connection without doing anything
 *   lostResponse do the work (the job is created), then drop the connection, or answer `status` (a 5xx)
 *                instead of the result: the caller cannot know it succeeded and must find the job by its
 *                name or by retrying with the same clientRequestToken
 * Job faults apply to the next job created:
 *   failWith         the job trains to its last step, then fails with this failureMessage
 *   stuckInProgress  the job stays InProgress and never trains (until stopped)
 * Deployment faults apply to the next custom model deployment created:
 *   failWith       the deployment goes from Creating to Failed with this failureMessage
 *   stuckCreating  the deployment stays Creating (until deleted)
 */
export type BedrockOperation =
  | 'CreateModelCustomizationJob'
  | 'GetModelCustomizationJob'
  | 'ListModelCustomizationJobs'
  | 'StopModelCustomizationJob'
  | 'GetCustomModel'
  | 'ListCustomModels'
  | 'DeleteCustomModel'
  | 'CreateCustomModelDeployment'
  | 'GetCustomModelDeployment'
  | 'ListCustomModelDeployments'
  | 'DeleteCustomModelDeployment'
  /** The runtime's InvokeModel (Titan Text Embeddings V2, bedrock-runtime.ts): throttle and status apply. */
  | 'InvokeModel';

export type BedrockRequestFault =
  | { kind: 'throttle' }
  | { kind: 'status'; status: number; errorType: string; message?: string }
  | { kind: 'reset' }
  | { kind: 'lostResponse'; status?: number };

export interface BedrockFaultRule {
  operation: BedrockOperation;
  fault: BedrockRequestFault;
  /** How many matching requests it applies to. @default 1 */
  times?: number;
}

export interface BedrockJobFault {
  failWith?: string;
  stuckInProgress?: boolean;
}

export interface BedrockDeploymentFault {
  failWith?: string;
  stuckCreating?: boolean;
}

export class BedrockFaults {
  private rules: Array<Required<BedrockFaultRule>> = [];
  private jobFaults: BedrockJobFault[] = [];
  private deploymentFaults: BedrockDeploymentFault[] = [];
  /** Requests that met a fault, for assertions ("retried three times"). */
  readonly applied: Array<{ operation: BedrockOperation; fault: BedrockRequestFault['kind'] }> = [];

  onRequest(rule: BedrockFaultRule): this {
    this.rules.push({ times: 1, ...rule });
    return this;
  }

  onNextJob(fault: BedrockJobFault): this {
    this.jobFaults.push(fault);
    return this;
  }

  onNextDeployment(fault: BedrockDeploymentFault): this {
    this.deploymentFaults.push(fault);
    return this;
  }

  clear(): void {
    this.rules = [];
    this.jobFaults = [];
    this.deploymentFaults = [];
    this.applied.length = 0;
  }

  /** The fault for this request, if any; consumes one use. */
  take(operation: BedrockOperation): BedrockRequestFault | undefined {
    const rule = this.rules.find((r) => r.times > 0 && r.operation === operation);
    if (!rule) return undefined;
    rule.times -= 1;
    this.applied.push({ operation, fault: rule.fault.kind });
    return rule.fault;
  }

  takeJobFault(): BedrockJobFault {
    return this.jobFaults.shift() ?? {};
  }

  takeDeploymentFault(): BedrockDeploymentFault {
    return this.deploymentFaults.shift() ?? {};
  }
}
