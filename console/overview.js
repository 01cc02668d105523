// The overview: things, certificates and enrollments by status, broker link
// and registry health, and provisioning requests per minute and rejections
// by errorCode over the last hour (GET /v1/summary: the figures /metrics
// exports, minute by minute).
import * as api from './api.js';
import { el, clear, table, outcome } from './dom.js';

function counts(title, id, map) {
  const rows = Object.entries(map || {});
  return el('div', { class: 'col-md-4' }, el('h2', { class: 'h6' }, title),
    table([['Status', ([k]) => k], ['Count', ([, v]) => v]], rows, { id }));
}

function chart(canvas, config) {
  if (typeof window.Chart !== 'function') return null;  // the library loads deferred
  return new window.Chart(canvas, config);
}

function view(container) {
  const done = outcome('overview-error');
  const health = el('div', { id: 'overview-health', class: 'mb-3' });
  const figures = el('div', { class: 'row', id: 'overview-counts' });
  const requestsCanvas = el('canvas', { id: 'chart-requests' });
  const rejectionsCanvas = el('canvas', { id: 'chart-rejections' });
  container.append(done, health, figures,
    el('div', { class: 'row mt-3' },
      el('div', { class: 'col-md-6' }, el('h2', { class: 'h6' }, 'Provisioning requests per minute (last hour)'),
        el('div', { class: 'chart-box' }, requestsCanvas)),
      el('div', { class: 'col-md-6' }, el('h2', { class: 'h6' }, 'Rejections by errorCode (last hour)'),
        el('div', { class: 'chart-box' }, rejectionsCanvas))));
  let charts = [];
  const load = async () => {
    try {
      const [summary, state] = await Promise.all([api.get('/v1/summary'),
        fetch('/health', { cache: 'no-store' }).then((r) => r.json())]);
      done.reset();
      clear(health).append(
        el('span', { class: `badge me-2 ${state.broker === 'connected' ? 'bg-success' : 'bg-danger'}`, id: 'health-broker' }, `broker link: ${state.broker}`),
        el('span', { class: `badge me-2 ${state.registry === 'ok' ? 'bg-success' : 'bg-danger'}`, id: 'health-registry' }, `registry: ${state.registry}`),
        el('span', { class: 'text-muted' }, `provisiond ${state.version}`));
      clear(figures).append(
        el('p', { class: 'col-12', id: 'overview-things' }, `${summary.things} things`),
        counts('Certificates', 'overview-certificates', summary.certificates),
        counts('Enrollments', 'overview-enrollments', summary.enrollments));
      for (const c of charts) c.destroy();
      charts = [];
      const labels = summary.minutes.map((m) => new Date(m.at * 1000).toISOString().slice(11, 16));
      const codes = [...new Set(summary.minutes.flatMap((m) => Object.keys(m.rejections)))].sort();
      const rejectionTotals = codes.map((code) => summary.minutes.reduce((sum, m) => sum + (m.rejections[code] || 0), 0));
      charts = [
        chart(requestsCanvas, { type: 'line', data: { labels, datasets: [{ label: 'requests', data: summary.minutes.map((m) => m.requests) }] },
          options: { animation: false, maintainAspectRatio: false } }),
        chart(rejectionsCanvas, { type: 'bar', data: { labels: codes, datasets: [{ label: 'rejections', data: rejectionTotals }] },
          options: { animation: false, maintainAspectRatio: false } }),
      ].filter(Boolean);
      requestsCanvas.setAttribute('data-total', String(summary.minutes.reduce((s, m) => s + m.requests, 0)));
      rejectionsCanvas.setAttribute('data-codes', codes.join(','));
    } catch (error) { done.failed(error); }
  };
  load();
  const timer = setInterval(load, 10000);
  return () => { clearInterval(timer); for (const c of charts) c.destroy(); };
}

export const overview = { id: 'overview', title: 'Overview', roles: ['admin', 'operator', 'factory'], render: view };
