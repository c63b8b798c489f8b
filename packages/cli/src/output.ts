/** Prints a value as JSON on stdout: what `--json` gives scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export type Cell = string | number | boolean | null | undefined | string[];

function text(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  if (Array.isArray(cell)) return cell.join(',');
  return String(cell);
}

/** A plain aligned table for people; `empty` is printed when there are no rows. */
export function printTable<Row>(
  rows: Row[],
  columns: [header: string, cell: (row: Row) => Cell][],
  empty: string,
): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const cells = rows.map((row) => columns.map(([, cell]) => text(cell(row))));
  const widths = columns.map(([header], index) =>
    Math.max(header.length, ...cells.map((line) => line[index]?.length ?? 0)),
  );
  const format = (line: string[]) =>
    line
      .map((value, index) => value.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    `${[format(columns.map(([header]) => header.toUpperCase())), ...cells.map(format)].join('\n')}\n`,
  );
}

/** `key: value` lines for one record. */
export function printRecord(entries: [label: string, value: Cell][]): void {
  const width = Math.max(...entries.map(([label]) => label.length));
  process.stdout.write(
    `${entries.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${text(value)}`).join('\n')}\n`,
  );
}

/** Human output, or the raw value with `--json`. */
export function output(json: boolean | undefined, value: unknown, human: () => void): void {
  if (json) printJson(value);
  else human();
}
