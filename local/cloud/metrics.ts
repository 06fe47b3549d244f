/**
 * What CloudWatch would make of the functions' stdout: each line that is an embedded metric format
 * document (a JSON object with `_aws.CloudWatchMetrics`) is a set of metric values, one per metric, per
 * dimension set and per value (a metric's value may be a list). The local cloud keeps them all, so tests
 * can assert that every metric the dashboard shows is produced.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 * (read 2026-12-01): a directive names the Namespace, the Dimensions (a list of lists of member names,
 * whose values are the document's members of those names) and the Metrics (Name, optional Unit), whose
 * values are the document's members of those names.
 */
export interface LocalMetric {
  namespace: string;
  name: string;
  /** The dimension set's names and their values in the document. */
  dimensions: Record<string, string>;
  value: number;
  /** As the directive says; "None" when it says nothing. */
  unit: string;
  /** The function (its logical id) that wrote the line. */
  function: string;
  /** The document's timestamp (epoch milliseconds). */
  timestamp: number;
}

type Directive = {
  Namespace?: unknown;
  Dimensions?: unknown;
  Metrics?: unknown;
};

/** The metric values of one stdout line; none when the line is not an EMF document. */
export function metricsOfLine(functionName: string, line: string): LocalMetric[] {
  if (!line.includes('"_aws"')) return [];
  let document: unknown;
  try {
    document = JSON.parse(line);
  } catch {
    return [];
  }
  if (typeof document !== 'object' || document === null) return [];
  const fields = document as Record<string, unknown> & {
    _aws?: { Timestamp?: unknown; CloudWatchMetrics?: unknown };
  };
  const directives = fields._aws?.CloudWatchMetrics;
  if (!Array.isArray(directives)) return [];
  const timestamp = typeof fields._aws?.Timestamp === 'number' ? fields._aws.Timestamp : Date.now();
  const found: LocalMetric[] = [];
  for (const directive of directives as Directive[]) {
    if (typeof directive?.Namespace !== 'string' || !Array.isArray(directive.Metrics)) continue;
    const sets =
      Array.isArray(directive.Dimensions) && directive.Dimensions.length > 0 ? directive.Dimensions : [[]];
    for (const metric of directive.Metrics as Array<{ Name?: unknown; Unit?: unknown }>) {
      if (typeof metric?.Name !== 'string') continue;
      const raw = fields[metric.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
      for (const set of sets as unknown[]) {
        if (!Array.isArray(set)) continue;
        const dimensions: Record<string, string> = {};
        for (const key of set) if (typeof key === 'string') dimensions[key] = String(fields[key] ?? '');
        for (const value of values)
          found.push({
            namespace: directive.Namespace,
            name: metric.Name,
            dimensions,
            value,
            unit: typeof metric.Unit === 'string' ? metric.Unit : 'None',
            function: functionName,
            timestamp,
          });
      }
    }
  }
  return found;
}

/** Every metric value the functions have written so far, in order. */
export class LocalMetrics {
  readonly #seen: LocalMetric[] = [];

  /** Reads one line a function wrote (any line: those that are not EMF documents are passed over). */
  observe(functionName: string, stream: 'stdout' | 'stderr', line: string): void {
    if (stream === 'stdout') this.#seen.push(...metricsOfLine(functionName, line));
  }

  list(): LocalMetric[] {
    return [...this.#seen];
  }
}
