// The status view's "How good is CLIP?" panel (issue 14): /api/v1/quality — CLIP's own answer
// against the paid model's (or a person's correction) by CLIP's confidence, the threshold that
// would give the target precision, and the paid calls it would save.
import { h, pct } from './ui.js';

const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—');
const fix2 = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(2) : '—');

/** The panel for a /api/v1/quality document. */
export function qualityPanel(q) {
  const buckets = Array.isArray(q.buckets) ? q.buckets : [];
  const rec = q.recommended_threshold;
  const verdict = !q.samples
    ? 'No measurements yet: escalated photos and shadow samples (SHADOW_SAMPLE_RATE) fill this in.'
    : rec === null || rec === undefined
      ? `No threshold reaches ${pct(q.precision_target)} precision on these samples: keep escalating.`
      : `A threshold of ${fix2(rec)} gives ${pct(q.precision)} precision (target ${pct(q.precision_target)}); ` +
        `of ${num(q.escalations)} escalations, ${num(q.paid_calls_saved)} would not have needed a paid call, ` +
        `and about ${num(Math.round(q.extra_paid_calls_estimate || 0))} sure answers below it would have.`;
  return h('section', { class: 'panel', 'aria-label': 'How good is CLIP?', testid: 'quality-panel' },
    h('h2', null, 'How good is CLIP?'),
    h('p', { class: 'big', testid: 'quality-agreement' }, q.samples ? pct(q.agree / q.samples) : '—',
      h('span', { class: 'small muted' }, ' agreement with the paid model')),
    h('p', { class: 'small', testid: 'quality-verdict' }, verdict),
    h('dl', { class: 'kv' },
      h('dt', null, 'Samples'), h('dd', { testid: 'quality-samples' }, num(q.samples)),
      h('dt', null, 'Threshold now'), h('dd', null, fix2(q.confidence_threshold)),
      h('dt', null, 'Shadow sample rate'), h('dd', null, pct(q.shadow_sample_rate))),
    buckets.length
      ? h('table', { class: 'layers', testid: 'quality-buckets' },
        h('caption', { class: 'vh' }, 'Agreement by CLIP confidence'),
        h('thead', null, h('tr', null, ['CLIP confidence', 'Samples', 'Agreement', 'Corrected'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, buckets.map((b) => h('tr', null,
          h('th', { scope: 'row' }, `${fix2(b.from)}–${fix2(b.to)}`), h('td', null, num(b.samples)),
          h('td', null, pct(b.agreement)), h('td', null, num(b.corrected))))))
      : null);
}
