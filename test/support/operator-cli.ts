import { main } from '../../cli/main.js';

/**
 * `tunedrop …` in this process, against a local cloud through its connection file, as the operator (the
 * stack's operator policy): what a person types in another terminal while `npm run local` runs.
 */
export function operatorCli(connectionFile: string) {
  return async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    const saved = process.env.TUNEDROP_LOCAL_CLOUD;
    process.env.TUNEDROP_LOCAL_CLOUD = connectionFile;
    let out = '';
    let err = '';
    try {
      const code = await main(
        [...argv, '--local'],
        (text) => void (out += text),
        (text) => void (err += text),
      );
      return { code, out, err };
    } finally {
      if (saved === undefined) delete process.env.TUNEDROP_LOCAL_CLOUD;
      else process.env.TUNEDROP_LOCAL_CLOUD = saved;
    }
  };
}
