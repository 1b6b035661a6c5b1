// The operators' data-quality page: reads GET [base]/$data-quality with the operator's token and draws,
// per source organisation, the writes received (a chart of accepted and rejected per day), the top
// validation issues and the last feed time. Everything is built with DOM calls and textContent: the
// figures carry text that feeds sent (examples), which must never be read as HTML.
(function () {
  'use strict';
  const token = document.getElementById('token');
  const days = document.getElementById('days');
  const statusLine = document.getElementById('status');
  token.value = sessionStorage.getItem('shcr-token') || '';

  document.getElementById('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('shcr-token', token.value);
    load();
  });

  function element(name, attributes, ...children) {
    const svg = ['svg', 'rect', 'text', 'line', 'title'].includes(name);
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', name) : document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.className = isError ? 'error' : '';
  }

  // Parameters parts as an object: single values by name, repeated parts (type, day, issue) as arrays.
  function partsOf(parameter) {
    const out = { type: [], day: [], issue: [] };
    for (const part of parameter.part || []) {
      const value = part.part ? partsOf(part)
        : part.valueString ?? part.valueInteger ?? part.valueBoolean ?? part.valueInstant ?? part.valueDate;
      if (Array.isArray(out[part.name])) out[part.name].push(value); else out[part.name] = value;
    }
    return out;
  }

  function number(n) { return element('td', { class: 'number' }, (n || 0).toLocaleString('en-GB')); }

  function summaryRow(o) {
    const total = (o.accepted || 0) + (o.rejected || 0);
    const lastFeed = element('td', {}, o.lastFeed ? new Date(o.lastFeed).toLocaleString('en-GB') : 'never');
    if (o.stale) lastFeed.append(element('span', { class: 'stale' }, 'stale'));
    return element('tr', { 'data-organization': o.code },
      element('td', {}, o.code), lastFeed, number(o.accepted), number(o.rejected),
      element('td', { class: 'number' }, total ? (100 * (o.rejected || 0) / total).toFixed(1) : '0.0'),
      number(o.nhsNumberInvalid), number(o.missingReference), number(o.duplicate), number(o.bindingNotFollowed));
  }

  // Accepted (below) and rejected (stacked above) writes per day, one bar per day of the period.
  function chart(o, since) {
    const width = 900, height = 220, left = 48, bottom = 24, top = 10;
    const byDay = new Map(o.day.map((d) => [d.date, d]));
    const dates = [];
    for (let t = Date.parse(since); t <= Date.now(); t += 86400000) dates.push(new Date(t).toISOString().slice(0, 10));
    const max = Math.max(1, ...o.day.map((d) => (d.accepted || 0) + (d.rejected || 0)));
    const slot = (width - left) / Math.max(1, dates.length);
    const scale = (n) => (n / max) * (height - top - bottom);
    const svg = element('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `Accepted and rejected writes per day from ${o.code}` });
    svg.append(element('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: '#888' }));
    svg.append(element('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, max));
    svg.append(element('text', { x: left - 6, y: height - bottom, 'text-anchor': 'end' }, 0));
    dates.forEach((date, i) => {
      const d = byDay.get(date) || { accepted: 0, rejected: 0 };
      const x = left + i * slot + slot * 0.15, w = Math.max(1, slot * 0.7);
      const a = scale(d.accepted || 0), r = scale(d.rejected || 0);
      const y = height - bottom;
      if (a > 0) svg.append(element('rect', { class: 'accepted', x, y: y - a, width: w, height: a },
        element('title', {}, `${date}: ${d.accepted} accepted`)));
      if (r > 0) svg.append(element('rect', { class: 'rejected', x, y: y - a - r, width: w, height: r },
        element('title', {}, `${date}: ${d.rejected} rejected`)));
    });
    svg.append(element('text', { x: left, y: height - 6 }, dates[0] || ''));
    svg.append(element('text', { x: width, y: height - 6, 'text-anchor': 'end' }, dates[dates.length - 1] || ''));
    return svg;
  }

  function issuesTable(o) {
    const table = element('table', { class: 'issues' },
      element('caption', {}, 'Most frequent validation issues'),
      element('thead', {}, element('tr', {}, ...['Severity', 'Issue', 'Element', 'Count', 'Example'].map((h) => element('th', {}, h)))));
    const body = element('tbody');
    for (const issue of o.issue)
      body.append(element('tr', {}, element('td', {}, issue.severity), element('td', {}, issue.code), element('td', {}, issue.path),
        number(issue.count), element('td', { class: 'example' }, issue.example)));
    if (!o.issue.length) body.append(element('tr', {}, element('td', { colspan: 5 }, 'No validation issues in the period.')));
    table.append(body);
    return table;
  }

  function render(report, since) {
    const organisations = (report.parameter || []).filter((p) => p.name === 'organization').map(partsOf);
    const summary = document.querySelector('#summary tbody');
    const sections = document.getElementById('organisations');
    summary.replaceChildren(...organisations.map(summaryRow));
    sections.replaceChildren(...organisations.map((o) => element('section', { class: 'organisation', 'data-organization': o.code },
      element('h2', {}, o.code),
      element('p', { class: 'legend' }, element('span', { class: 'accepted' }), 'accepted', element('span', { class: 'rejected' }), 'rejected'),
      chart(o, since), issuesTable(o))));
    if (!organisations.length) summary.replaceChildren(element('tr', {}, element('td', { colspan: 9 }, 'No writes in the period.')));
  }

  async function load() {
    const since = new Date(Date.now() - Number(days.value) * 86400000).toISOString().slice(0, 10);
    const headers = { Accept: 'application/fhir+json' };
    if (token.value) headers.Authorization = 'Bearer ' + token.value;
    say('Loading…');
    try {
      // Relative to /dashboard: the server's own FHIR base (/fhir), also behind a proxy that adds a prefix.
      const response = await fetch(`fhir/$data-quality?_since=${since}`, { headers });
      const body = await response.json();
      if (!response.ok) {
        const why = body.issue && body.issue[0] && body.issue[0].diagnostics;
        say(`The server refused (${response.status}): ${why || 'no reason given'}`, true);
        return;
      }
      render(body, since);
      say(`Updated ${new Date().toLocaleTimeString('en-GB')}`);
    } catch (error) {
      say(`Could not load the figures: ${error.message}`, true);
    }
  }

  load();
})();
