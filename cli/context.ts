import type { Values } from './args.js';
import type { AwsTarget } from './aws-target.js';
import type { Services } from './services.js';

/** Where a command writes, and how it reaches the cloud: real in bin/tunedrop.js, fakes in tests. */
export interface Context {
  out(text: string): void;
  err(text: string): void;
  /** The cloud the command's options name, connected; says which on stderr unless --json. */
  connect(values: Values): Promise<Connection>;
  sleep(ms: number): Promise<void>;
}

export interface Connection {
  services: Services;
  target: AwsTarget;
  stack: string;
}
