// The HTML report's page script: runs in the browser, reads the embedded JSON report and builds
// the page with createElement and text nodes only (never HTML strings from snapshot data).
// Inlined into the page by lib/report/html.js when a report is written.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('memwatch-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); }
    (kids || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bytes(n) {
    var a = Math.abs(n), u = ['bytes', 'KB', 'MB', 'GB', 'TB'], i = 0;
    while (a >= 1024 && i < u.length - 1) { a /= 1024; i++; }
    return (n < 0 ? '-' : '') + (i === 0 ? a : a.toFixed(a < 10 ? 2 : 1)) + ' ' + u[i];
  }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function signed(n, f) { return (n > 0 ? '+' : '') + f(n); }
  function hue(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0; return h % 360; }
  function color(s) { return 'hsl(' + hue(s) + ',55%,62%)'; }
  var main = document.getElementById('main');
  function section(title, kids) { var s = el('section', null, [el('h2', { text: title })].concat(kids)); main.appendChild(s); return s; }
  function kpis(list) { main.appendChild(el('div', { class: 'kpis' }, list.map(function (k) { return el('div', { class: 'kpi' }, [el('div', { class: 'v', text: k[1] }), el('div', { class: 'l', text: k[0] })]); }))); }

  // Sortable table: columns [{key, label, fmt, num}], rows of objects.
  function table(columns, rows, sortKey) {
    var tbody = el('tbody');
    var state = { key: sortKey, asc: false };
    var heads = columns.map(function (c) {
      var th = el('th', { text: c.label, 'data-key': c.key });
      th.addEventListener('click', function () { state.asc = state.key === c.key ? !state.asc : false; state.key = c.key; draw(); });
      return th;
    });
    function draw() {
      var col = columns.filter(function (c) { return c.key === state.key; })[0];
      var sorted = rows.slice().sort(function (a, b) {
        var x = a[state.key], y = b[state.key];
        var r = col && col.num ? x - y : String(x).localeCompare(String(y));
        return state.asc ? r : -r;
      });
      heads.forEach(function (th) { th.className = th.getAttribute('data-key') === state.key ? 'sorted' + (state.asc ? ' asc' : '') : ''; });
      tbody.textContent = '';
      sorted.forEach(function (r) {
        tbody.appendChild(el('tr', null, columns.map(function (c) {
          var v = r[c.key];
          var td = el('td', { text: c.fmt ? c.fmt(v) : v });
          if (c.sign && v > 0) td.className = 'pos'; else if (c.sign && v < 0) td.className = 'neg';
          return td;
        })));
      });
    }
    draw();
    return el('div', { class: 'scroll' }, [el('table', { class: 'sortable' }, [el('thead', null, [el('tr', null, heads)]), tbody])]);
  }

  function pathView(steps) {
    var box = el('div', { class: 'path' });
    box.appendChild(el('span', { class: 'step', style: '--d:0', text: '(GC root)' }));
    steps.forEach(function (s, i) {
      var line = el('span', { class: 'step', style: '--d:' + Math.min(i + 1, 12) });
      line.appendChild(el('span', { class: 'edge', text: '\u2192 ' + s.edge + ' ' }));
      line.appendChild(document.createTextNode(s.className + ' @' + s.id));
      box.appendChild(line);
    });
    return box;
  }

  // Squarified treemap of blocks {label, value, children?} into w x h.
  function squarify(items, x, y, w, h, out) {
    items = items.filter(function (i) { return i.value > 0; }).sort(function (a, b) { return b.value - a.value; });
    var total = items.reduce(function (s, i) { return s + i.value; }, 0);
    if (!total) return;
    var scale = (w * h) / total, row = [], rest = items.slice();
    function worst(r, side) {
      var s = r.reduce(function (a, i) { return a + i.value * scale; }, 0), mx = 0, mn = Infinity;
      r.forEach(function (i) { var v = i.value * scale; mx = Math.max(mx, v); mn = Math.min(mn, v); });
      return Math.max((side * side * mx) / (s * s), (s * s) / (side * side * mn));
    }
    while (rest.length) {
      var side = Math.min(w, h), next = rest[0];
      if (!row.length || worst(row.concat([next]), side) <= worst(row, side)) { row.push(rest.shift()); continue; }
      layout();
    }
    if (row.length) layout();
    function layout() {
      var s = row.reduce(function (a, i) { return a + i.value * scale; }, 0);
      var horizontal = w >= h, thick = s / (horizontal ? h : w), off = 0;
      row.forEach(function (i) {
        var len = (i.value * scale) / thick;
        if (horizontal) out.push({ item: i, x: x, y: y + off, w: thick, h: len }); else out.push({ item: i, x: x + off, y: y, w: len, h: thick });
        off += len;
      });
      if (horizontal) { x += thick; w -= thick; } else { y += thick; h -= thick; }
      row = [];
    }
  }
  function treemap(blocks, total) {
    var W = 1180, H = 420, svg = sv('svg', { id: 'treemap', viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img' });
    var cells = [];
    squarify(blocks.map(function (b) { return { label: b.className, value: b.retainedSize, block: b }; }), 0, 0, W, H, cells);
    cells.forEach(function (c) {
      var b = c.item.block, g = sv('g', {});
      g.appendChild(sv('rect', { x: c.x + 1, y: c.y + 1, width: Math.max(c.w - 2, 0), height: Math.max(c.h - 2, 0), fill: color(b.className), rx: 3 }));
      g.appendChild(sv('title', {}, b.className + ' \u00d7' + num(b.count) + ': ' + bytes(b.retainedSize) + ' (' + (100 * b.retainedSize / total).toFixed(1) + '%)'));
      // The children of big blocks, as a strip of thin cells inside it.
      if (c.w > 120 && c.h > 70 && b.children && b.children.length) {
        var inner = [];
        squarify(b.children.map(function (k) { return { label: k.className, value: k.retainedSize, block: k }; }), c.x + 4, c.y + 22, c.w - 8, c.h - 26, inner);
        inner.forEach(function (k) {
          g.appendChild(sv('rect', { x: k.x + 1, y: k.y + 1, width: Math.max(k.w - 2, 0), height: Math.max(k.h - 2, 0), fill: color(k.item.label), opacity: 0.55, rx: 2 }));
          if (k.w > 70 && k.h > 16) g.appendChild(sv('text', { x: k.x + 5, y: k.y + 13 }, k.item.label.slice(0, Math.floor(k.w / 7))));
        });
      }
      if (c.w > 50 && c.h > 16) g.appendChild(sv('text', { x: c.x + 6, y: c.y + 15, 'font-weight': 600 }, (b.className + ' ' + bytes(b.retainedSize)).slice(0, Math.floor(c.w / 7))));
      svg.appendChild(g);
    });
    return svg;
  }

  function statsChart(stats) {
    var W = 1180, H = 260, P = 48, svg = sv('svg', { id: 'stats-chart', viewBox: '0 0 ' + W + ' ' + H, width: '100%' });
    var series = [['current_base', '#2f6fde'], ['estimated_base', '#c8372d'], ['used_heap_size', '#8a94a6']].filter(function (s) { return stats.some(function (p) { return typeof p[s[0]] === 'number'; }); });
    var t0 = stats[0].time, t1 = stats[stats.length - 1].time || t0 + 1, max = 1;
    stats.forEach(function (p) { series.forEach(function (s) { if (p[s[0]] > max) max = p[s[0]]; }); });
    function X(t) { return P + ((t - t0) / Math.max(t1 - t0, 1)) * (W - P - 10); }
    function Y(v) { return H - 24 - (v / max) * (H - 40); }
    for (var i = 0; i <= 4; i++) {
      var v = (max * i) / 4;
      svg.appendChild(sv('line', { x1: P, x2: W - 10, y1: Y(v), y2: Y(v), stroke: '#e6ebf2' }));
      svg.appendChild(sv('text', { x: 4, y: Y(v) + 4, fill: '#5d6b82' }, bytes(v)));
    }
    svg.appendChild(sv('text', { x: P, y: H - 6, fill: '#5d6b82' }, new Date(t0).toISOString().replace('T', ' ').slice(0, 19)));
    svg.appendChild(sv('text', { x: W - 150, y: H - 6, fill: '#5d6b82' }, new Date(t1).toISOString().replace('T', ' ').slice(0, 19)));
    series.forEach(function (s) {
      var d = stats.filter(function (p) { return typeof p[s[0]] === 'number'; }).map(function (p, i) { return (i ? 'L' : 'M') + X(p.time).toFixed(1) + ' ' + Y(p[s[0]]).toFixed(1); }).join(' ');
      svg.appendChild(sv('path', { d: d, fill: 'none', stroke: s[1], 'stroke-width': 2 }));
    });
    var legend = el('div', { class: 'legend' }, series.map(function (s) { var i = el('i'); i.style.background = s[1]; return el('span', null, [i, document.createTextNode(s[0])]); }));
    return el('div', null, [svg, legend]);
  }

  var r = data.report;
  // `onTick() at app.js:7:33`: an object as people look for it in their code.
  function what(o) {
    var name = o.name || o.className;
    return o.location ? name + ' at ' + o.location.script + ':' + o.location.line + ':' + o.location.column : name;
  }
  function madeOf(rows) {
    return (rows || []).map(function (m) { return num(m.count) + ' \u00d7 ' + m.what; }).join(', ');
  }
  // The 'leak' this report was written for: its reason, and with allocation sampling the
  // stacks whose live bytes grew over the episode (most first).
  if (data.leak) {
    var sites = data.leak.sites || [];
    section('The leak', [el('p', { text: data.leak.reason }), sites.length ? table([
      { key: 'bytes', label: 'live bytes grown', num: 1, fmt: bytes }, { key: 'where', label: 'allocated in' }, { key: 'text', label: 'stack (innermost first)' }],
      sites.map(function (s) {
        s.where = s.script ? s.function + ' at ' + s.script + ':' + s.line + ':' + s.column : s.function;
        if (s.callerBytes > 0) s.where += ' (' + bytes(s.callerBytes) + ' sampled in its callers, where it was inlined)';
        return s;
      }), 'bytes')
      : el('p', { class: 'muted', text: data.leak.sites ? 'No sampled allocation site grew over the episode.' : 'Allocation sites: set memwatch.setOptions({ allocationSamplingBytes: 524288 }) to have them.' })]);
  }
  if (data.kind === 'analyze') {
    kpis([['heap size', bytes(r.totalSize)], ['objects', num(r.nodes)], ['references', num(r.edges)], ['suspects', String(r.suspects.length)]]);
    section('Heap composition by retained size', [el('p', { class: 'muted', text: 'Each block is the objects of one class directly under a GC root in the dominator tree, sized by what they retain; inside are the classes they retain.' }), treemap(r.composition, r.totalSize)]);
    section('Suspects: objects retaining more than 10% of the heap', r.suspects.length ? r.suspects.map(function (s) {
      var o = s.object, title = what(o) + ' @' + o.id + ' retains ' + bytes(o.retainedSize) + ' (' + s.percent.toFixed(1) + '%)';
      if (s.mainlyIn.length) title += ', mainly in ' + what(s.mainlyIn[s.mainlyIn.length - 1]) + ' @' + s.mainlyIn[s.mainlyIn.length - 1].id;
      var holds = (s.holds || []).map(function (h) { return num(h.count) + ' \u00d7 ' + h.what + ' (' + bytes(h.retainedSize) + ')'; }).join(', ');
      return el('div', { class: 'card' }, [el('div', { class: 't', text: title }), holds ? el('div', { class: 'holds', text: 'holding ' + holds }) : null,
        pathView(s.retainerPath.map(function (p) { return { edge: p.edge, className: p.object.name || p.object.className, id: p.object.id }; }))]);
    }) : [el('p', { class: 'muted', text: 'No single object retains more than 10% of the heap.' })]);
    section('Classes', [table([
      { key: 'className', label: 'class' }, { key: 'count', label: 'count', num: 1, fmt: num },
      { key: 'shallowSize', label: 'shallow size', num: 1, fmt: bytes }, { key: 'retainedSize', label: 'retained size', num: 1, fmt: bytes }], r.classes, 'retainedSize')]);
    section('Largest objects', [table([
      { key: 'what', label: 'object' }, { key: 'id', label: 'id', num: 1 }, { key: 'selfSize', label: 'self size', num: 1, fmt: bytes },
      { key: 'retainedSize', label: 'retained size', num: 1, fmt: bytes }], r.largest.map(function (o) { o.what = what(o); return o; }), 'retainedSize')]);
  } else if (data.kind === 'diff') {
    kpis([['before', bytes(r.before.size)], ['after', bytes(r.after.size)], ['change', signed(r.after.size - r.before.size, bytes)], ['objects change', signed(r.after.nodes - r.before.nodes, num)]]);
    var grew = r.classes.filter(function (c) { return c.sizeDelta > 0; }).slice(0, 40);
    if (grew.length) section('What grew (size delta)', [treemap(grew.map(function (c) { return { className: c.className, count: c.countDelta, retainedSize: c.sizeDelta, children: [] }; }), grew.reduce(function (s, c) { return s + c.sizeDelta; }, 0))]);
    section('Comparison by class', [table([
      { key: 'className', label: 'class' }, { key: 'addedCount', label: '# new', num: 1, fmt: num }, { key: 'removedCount', label: '# deleted', num: 1, fmt: num },
      { key: 'countDelta', label: '# delta', num: 1, sign: 1, fmt: function (v) { return signed(v, num); } },
      { key: 'addedSize', label: 'alloc. size', num: 1, fmt: bytes }, { key: 'removedSize', label: 'freed size', num: 1, fmt: bytes },
      { key: 'sizeDelta', label: 'size delta', num: 1, sign: 1, fmt: function (v) { return signed(v, bytes); } },
      { key: 'madeOfText', label: 'new objects are' }], r.classes.map(function (c) { c.madeOfText = madeOf(c.madeOf); return c; }), 'sizeDelta')]);
  } else if (data.kind === 'leaks') {
    kpis([['leaked objects', num(r.leakedObjects)], ['their shallow size', bytes(r.leakedShallowSize)], ['retainer paths', String(r.groups.length)]]);
    section('Leaks by retainer path', r.groups.length ? r.groups.map(function (g, i) {
      return el('div', { class: 'card' }, [
        el('div', { class: 't', text: (i + 1) + '. ' + num(g.count) + ' \u00d7 ' + g.className + ' (' + num(g.objects) + ' objects in all) retain ' + bytes(g.retainedSize) }),
        g.madeOf && g.madeOf.length ? el('div', { class: 'holds', text: 'made of ' + madeOf(g.madeOf) }) : null,
        g.location ? el('div', { class: 'muted', text: g.className + ' is defined at ' + g.location.script + ':' + g.location.line + ':' + g.location.column }) : null,
        el('div', { class: 'muted', text: 'held by ' + g.signature }), pathView(g.sampleSteps)]);
    }) : [el('p', { class: 'muted', text: 'No objects allocated between base and target are alive in final.' })]);
    section('Leaked objects by class', [table([
      { key: 'className', label: 'class' }, { key: 'count', label: 'count', num: 1, fmt: num }, { key: 'shallowSize', label: 'shallow size', num: 1, fmt: bytes }], r.classes, 'shallowSize')]);
  } else if (data.kind === 'near-limit') {
    var h = r.limits.heap, m = r.limits.memory;
    kpis([['heap used', bytes(h.used) + ' of ' + bytes(h.runwayLimit)], ['memory (rss)', bytes(m.rss) + ' of ' + bytes(m.limit) + ' (' + m.kind + ')'],
      ['live objects', num(r.objects.now)], ['at the start', num(r.objects.atStart)]]);
    section('What grew since ' + r.objects.since + ', by constructor', [table([
      { key: 'what', label: 'constructor' }, { key: 'growth', label: 'grew by', num: 1, fmt: num }, { key: 'count', label: 'now', num: 1, fmt: num },
      { key: 'before', label: 'at the start', num: 1, fmt: num }], r.grew, 'growth')]);
  }
  if (data.stats && data.stats.length > 1) section('Heap after each full GC', [statsChart(data.stats)]);
  document.body.setAttribute('data-ready', '1');
})();
