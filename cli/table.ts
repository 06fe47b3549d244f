/**
 * Aligned text tables for the human-readable output: columns as wide as their widest cell, numbers
 * right-aligned so their digits line up, two spaces between columns, no trailing spaces.
 */
export interface Column<Row> {
  header: string;
  cell: (row: Row) => string;
  align?: 'left' | 'right';
}

export function renderTable<Row>(columns: Column<Row>[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)));
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((r) => r[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) =>
        columns[i]!.align === 'right' ? value.padStart(widths[i]!) : value.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Dollars for people: cents above a dollar, four decimals below (a small run costs fractions of a cent). */
export function usd(value: number | undefined | null): string {
  if (value === undefined || value === null) return '-';
  return value >= 1 || value === 0 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}

export function tokens(value: number | undefined | null): string {
  return value === undefined || value === null ? '-' : value.toLocaleString('en-US');
}

/** An ISO time as "2026-11-29 21:20:28Z": seconds are enough for a person, and the zone stays said. */
export function time(iso: string | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
