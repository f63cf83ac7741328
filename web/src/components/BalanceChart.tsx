import type { ChartPoint } from '../lib/statement';
import { formatMoney, type Currency } from '../lib/money';
import { formatDateTime } from '../lib/dates';

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 16, right: 16, bottom: 28, left: 12 };

/**
 * The balance over time as a step line (a balance holds until the next entry changes it).
 * Hand-made SVG: positions are pixels (floating point is fine there); every amount shown is
 * formatted from the integer minor units.
 */
export function BalanceChart({ points, currency }: { points: ChartPoint[]; currency: Currency }) {
  if (points.length === 0) {
    return <p className="empty">No balance history to chart yet.</p>;
  }
  const first = points[0];
  const last = points[points.length - 1];
  const balances = points.map((p) => p.balance);
  const low = Math.min(0, ...balances);
  const high = Math.max(0, ...balances);
  const t0 = first.time;
  const t1 = Math.max(last.time, t0 + 1);
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (WIDTH - PAD.left - PAD.right);
  const y = (b: number) =>
    HEIGHT - PAD.bottom - (high === low ? 0.5 : (b - low) / (high - low)) * (HEIGHT - PAD.top - PAD.bottom);

  let path = `M ${x(first.time).toFixed(1)} ${y(first.balance).toFixed(1)}`;
  for (const point of points.slice(1)) {
    path += ` H ${x(point.time).toFixed(1)} V ${y(point.balance).toFixed(1)}`;
  }
  if (points.length === 1) path += ` H ${(WIDTH - PAD.right).toFixed(1)}`;
  // Filled between the line and zero: above it while in credit, below it in an overdraft.
  const area = `${path} V ${y(0).toFixed(1)} H ${x(first.time).toFixed(1)} Z`;
  const lowest = low < 0 ? `; lowest ${formatMoney(low, currency)}` : '';
  const label = `Balance over time: ${formatMoney(first.balance, currency)} on ${formatDateTime(
    new Date(first.time).toISOString(),
  )}, ${formatMoney(last.balance, currency)} on ${formatDateTime(new Date(last.time).toISOString())}; highest ${formatMoney(high, currency)}${lowest}.`;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} preserveAspectRatio="none">
        <line className="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(high)} y2={y(high)} />
        <path className="area" d={area} />
        {/* Zero, over the area: the line an overdraft goes below. */}
        <line className="axis" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} />
        <path className="line" d={path} />
        {/* Zero-length round-capped strokes: dots that stay round however the chart is stretched. */}
        {points.length <= 60 &&
          points.map((p, i) => <path key={i} className="dot" d={`M ${x(p.time).toFixed(1)} ${y(p.balance).toFixed(1)} h 0`} />)}
      </svg>
      <figcaption>
        <span>{formatDateTime(new Date(first.time).toISOString())}</span>
        <span>
          high {formatMoney(high, currency)}
          {low < 0 && ` · low ${formatMoney(low, currency)}`} · now {formatMoney(last.balance, currency)}
        </span>
        <span>{formatDateTime(new Date(last.time).toISOString())}</span>
      </figcaption>
    </figure>
  );
}
