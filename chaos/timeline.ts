/**
 * `timeline.svg`: one lane per participant with its tenures as bars coloured
 * by term, faults as shaded, labelled spans on the lane they hit, the
 * database's down time on a lane of its own, and a red mark wherever the
 * checker found a violation. Hover a shape for its details.
 */
import type { Verdict } from './checker.js';
import type { FaultKind, RunLog } from './records.js';

const LEFT = 90;
const RIGHT = 20;
const TOP = 46;
const LANE = 34;
const BAR = 14;
const AXIS = 30;
const LEGEND = 44;

const FAULT_COLOURS: Record<FaultKind, string> = {
  kill: '#7f7f7f',
  pause: '#8c6bb1',
  partition: '#e6550d',
  latency: '#fdae6b',
  'db-crash': '#252525',
  'db-kill-conn': '#3182bd',
  skew: '#31a354',
  'fence-cut': '#e377c2',
  'node-kill': '#252525',
  'node-isolate': '#d62728',
  'node-pause': '#6a51a3',
  'node-skew': '#238b45',
  failover: '#a50f15',
};

/** The SVG picture of a checked run. */
export function timeline(log: RunLog, verdict: Verdict): string {
  const seconds = log.ended / 1000;
  const width = Math.round(Math.min(4800, Math.max(900, seconds * 24)));
  const x = (t: number): number => LEFT + (t / log.ended) * width;
  const galera = log.cluster === 'galera';
  // On Galera a lane per node (its faults), and each participant's lane names its node.
  const lanes = [...(galera ? [1, 2, 3].map((i) => `galera-${i}`) : ['database']), ...log.nodes];
  const laneLabel = (name: string): string => (log.placement?.[name] === undefined ? name : `${name} (g${log.placement[name]})`);
  const laneTop = (name: string): number => TOP + Math.max(0, lanes.indexOf(name)) * LANE;
  const bottom = TOP + lanes.length * LANE;
  const parts: string[] = [];

  const title = `chaos run${galera ? ' (3-node Galera)' : log.cluster === 'replicated' ? ' (a primary that fails over)' : ''}: seed ${log.seed}, ${log.nodes.length} participants, age ${log.age} ms, tick ${log.tick} ms, ${log.faults.length} faults, ${verdict.violations.length} violations`;
  parts.push(`<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`);

  lanes.forEach((name, i) => {
    const y = laneTop(name);
    parts.push(`<rect x="${LEFT}" y="${y}" width="${width}" height="${LANE}" fill="${i % 2 ? '#ffffff' : '#f4f4f4'}"/>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + LANE / 2 + 4}" font-size="12" text-anchor="end">${escape(laneLabel(name))}</text>`);
  });

  for (const fault of log.faults) {
    const x0 = x(fault.start);
    const w = Math.max(2, x(fault.heal) - x0);
    const y = laneTop(fault.target);
    const reconfiguration = fault.reconfigurationMs === undefined ? '' : `; reconfiguration ${fault.reconfigurationMs} ms`;
    const tip = `fault ${fault.id}: ${fault.kind} on ${fault.target}, ${at(fault.start)}–${at(fault.heal)} (${fault.detail})${reconfiguration}`;
    const down = fault.kind === 'db-crash' || fault.kind === 'node-kill';
    // The server's down time is labelled beside its (often narrow) span.
    const label = down ? `down ${((fault.heal - fault.start) / 1000).toFixed(1)} s` : fault.kind;
    parts.push(
      `<g><title>${escape(tip)}</title><rect x="${f(x0)}" y="${y + 1}" width="${f(w)}" height="${LANE - 2}" fill="${FAULT_COLOURS[fault.kind]}" fill-opacity="${down ? 0.8 : 0.35}"/>` +
        `<text x="${f(down ? x0 + w + 2 : x0 + 2)}" y="${y + 9}" font-size="8" fill="#333333">${escape(label)}</text></g>`,
    );
  }

  for (const tenure of verdict.tenures) {
    const x0 = x(tenure.start);
    const w = Math.max(1, x(tenure.end) - x0);
    const y = laneTop(tenure.node) + (LANE - BAR) / 2 + 4;
    const tip = `${tenure.node} led, term ${tenure.term}: ${at(tenure.start)}–${at(tenure.end)}`;
    const label =
      w > 8 * String(tenure.term).length
        ? `<text x="${f(x0 + w / 2)}" y="${y + BAR - 3}" font-size="9" fill="#ffffff" text-anchor="middle">${tenure.term}</text>`
        : '';
    parts.push(`<g><title>${escape(tip)}</title><rect x="${f(x0)}" y="${y}" width="${f(w)}" height="${BAR}" fill="${termColour(tenure.term)}"/>${label}</g>`);
  }

  for (const violation of verdict.violations) {
    const vx = f(x(Math.min(Math.max(violation.at, 0), log.ended)));
    const marks = (violation.nodes.length > 0 ? violation.nodes : ['database']).map((node) => {
      const y = laneTop(node);
      return `<path d="M ${vx} ${y + 2} l -5 -8 h 10 z" fill="#d62728"/>`;
    });
    parts.push(
      `<g><title>${escape(`${violation.kind} at ${at(violation.at)}: ${violation.message}`)}</title>` +
        `<line x1="${vx}" y1="${TOP}" x2="${vx}" y2="${bottom}" stroke="#d62728" stroke-width="1.5"/>${marks.join('')}</g>`,
    );
  }

  const step = [1, 2, 5, 10, 15, 30, 60, 120].find((s) => seconds / s <= 24) ?? 300;
  for (let s = 0; s <= seconds; s += step) {
    const sx = f(x(s * 1000));
    parts.push(`<line x1="${sx}" y1="${bottom}" x2="${sx}" y2="${bottom + 5}" stroke="#333333"/>`);
    parts.push(`<text x="${sx}" y="${bottom + 17}" font-size="10" text-anchor="middle">${s} s</text>`);
  }
  parts.push(`<line x1="${LEFT}" y1="${bottom}" x2="${LEFT + width}" y2="${bottom}" stroke="#333333"/>`);

  let lx = LEFT; // the legend: one swatch per fault kind
  const ly = bottom + AXIS + 8;
  for (const kind of [...new Set([...log.kinds, ...log.faults.map((f) => f.kind)])]) {
    const colour = FAULT_COLOURS[kind];
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${colour}" fill-opacity="${kind === 'db-crash' || kind === 'node-kill' ? 0.8 : 0.35}"/>`,
    );
    parts.push(`<text x="${lx + 16}" y="${ly + 1}" font-size="11">${kind}</text>`);
    lx += 26 + kind.length * 7;
  }
  parts.push(
    `<text x="${LEFT}" y="${ly + 18}" font-size="11">bars: tenures as each participant believed them, coloured and numbered by term; shaded: faults; red: a violation</text>`,
  );

  const height = bottom + AXIS + LEGEND;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + width + RIGHT}" height="${height}" viewBox="0 0 ${LEFT + width + RIGHT} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** Neighbouring terms get far-apart hues (the golden angle). */
const termColour = (term: number): string => `hsl(${Math.round((term * 137.508) % 360)}, 62%, 42%)`;

const at = (t: number): string => `${(t / 1000).toFixed(2)} s`;

const f = (n: number): string => n.toFixed(1);

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
