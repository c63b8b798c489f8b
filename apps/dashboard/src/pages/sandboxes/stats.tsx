import type { SandboxStats } from '@runtools/spec';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { call } from '../../api/client';
import { formatBytes } from '../../components/format';
import { ErrorState, Loading } from '../../components/ui';

const samples = 60;
const intervalMs = 2000;

type Sample = { at: number; stats: SandboxStats };

/** CPU and memory over the last two minutes, polled from the stats route every 2 s, drawn as sparklines. */
export function SandboxStatsPanel({ sandboxId }: { sandboxId: string }) {
  const [history, setHistory] = useState<Sample[]>([]);
  const query = useQuery({
    queryKey: ['sandboxes', 'stats', sandboxId],
    queryFn: () => call('sandboxesStats', { params: { sandboxId } }),
    refetchInterval: intervalMs,
  });
  const lastAt = useRef(0);
  useEffect(() => {
    if (!query.data || query.dataUpdatedAt === lastAt.current) return;
    lastAt.current = query.dataUpdatedAt;
    setHistory((current) => [...current, { at: query.dataUpdatedAt, stats: query.data }].slice(-samples));
  }, [query.data, query.dataUpdatedAt]);

  // CPU use between two samples: CPU seconds spent over wall seconds passed (1.0 = one core busy).
  const cpu: number[] = [];
  for (let index = 1; index < history.length; index++) {
    const before = history[index - 1];
    const after = history[index];
    if (!before || !after || before.stats.cpuSeconds === null || after.stats.cpuSeconds === null) continue;
    const seconds = (after.at - before.at) / 1000;
    if (seconds > 0) cpu.push(Math.max(0, (after.stats.cpuSeconds - before.stats.cpuSeconds) / seconds));
  }
  const memory = history.map((sample) => sample.stats.memoryBytes ?? 0);
  const latest = query.data;

  if (query.isPending) return <Loading label="Loading stats…" />;
  if (query.isError && !latest) return <ErrorState error={query.error} retry={() => query.refetch()} />;
  if (!latest) return null;
  const cpuNow = cpu.at(-1);
  return (
    <div className="stack">
      <h2>Stats</h2>
      {query.isError ? <p className="field-error">Last poll failed: {query.error.message}</p> : null}
      <div className="grid">
        <section className="card" aria-labelledby="cpu-heading">
          <h3 id="cpu-heading">CPU</h3>
          <p className="stat-value">
            {cpuNow === undefined ? '—' : `${(cpuNow * 100).toFixed(0)}%`}
            <span className="muted"> of one core</span>
          </p>
          <Sparkline
            values={cpu}
            label={`CPU use, last ${cpu.length} samples${cpuNow === undefined ? '' : `, now ${(cpuNow * 100).toFixed(0)}% of a core`}`}
          />
          <p className="muted">
            Total CPU time {latest.cpuSeconds === null ? '—' : `${latest.cpuSeconds.toFixed(1)} s`}
          </p>
        </section>
        <section className="card" aria-labelledby="memory-heading">
          <h3 id="memory-heading">Memory</h3>
          <p className="stat-value">
            {formatBytes(latest.memoryBytes)}
            {latest.memoryLimitBytes ? <span className="muted"> of {formatBytes(latest.memoryLimitBytes)}</span> : null}
          </p>
          <Sparkline
            values={memory}
            max={latest.memoryLimitBytes ?? undefined}
            label={`Memory use, last ${memory.length} samples, now ${formatBytes(latest.memoryBytes)}`}
          />
        </section>
        <section className="card" aria-labelledby="other-heading">
          <h3 id="other-heading">Disk and processes</h3>
          <dl className="facts">
            <dt>Disk</dt>
            <dd>
              {formatBytes(latest.diskBytes)}
              {latest.diskLimitBytes ? ` of ${formatBytes(latest.diskLimitBytes)}` : ''}
            </dd>
            <dt>Processes</dt>
            <dd>{latest.processes ?? '—'}</dd>
          </dl>
        </section>
      </div>
    </div>
  );
}

/** A small inline SVG line of the values, scaled to their maximum (or `max`). */
export function Sparkline({ values, label, max }: { values: number[]; label: string; max?: number }) {
  const width = 240;
  const height = 56;
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const step = values.length > 1 ? width / (samples - 1) : 0;
  const offset = width - (values.length - 1) * step;
  const points = values
    .map(
      (value, index) =>
        `${(offset + index * step).toFixed(1)},${(height - 2 - (value / top) * (height - 4)).toFixed(1)}`,
    )
    .join(' ');
  return (
    <svg
      className="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
      preserveAspectRatio="none"
    >
      <line x1="0" y1={height - 1} x2={width} y2={height - 1} className="sparkline-base" />
      {values.length > 1 ? <polyline points={points} className="sparkline-line" /> : null}
    </svg>
  );
}
