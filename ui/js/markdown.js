// A small, safe Markdown renderer for chat messages. It builds DOM nodes (no innerHTML),
// so a model's reply can never inject markup: fenced code blocks, headings, lists,
// block quotes, paragraphs, and inline code, bold, italics and links (http, https and
// mailto only). Good enough for assistant replies; anything else shows as text.

import { h } from './dom.js';

export function renderMarkdown(text) {
  const root = document.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)/);
    if (fence) {
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) body.push(lines[i]);
      i++;
      root.append(h('pre', h('code', { dataset: fence[2] ? { lang: fence[2] } : undefined }, body.join('\n'))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      root.append(h(`h${Math.min(6, heading[1].length + 2)}`, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      for (; i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i]); i++)
        list.append(h('li', inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))));
      root.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quote = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quote.push(lines[i].replace(/^\s*>\s?/, ''));
      root.append(h('blockquote', renderMarkdown(quote.join('\n'))));
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const para = [];
    for (; i < lines.length && lines[i].trim() && !/^(\s*(```|~~~|>|[-*+]\s|\d+[.)]\s)|#{1,6}\s)/.test(lines[i]); i++) para.push(lines[i]);
    if (!para.length) para.push(lines[i++]);
    const p = h('p');
    para.forEach((l, k) => {
      if (k) p.append(h('br'));
      p.append(inline(l));
    });
    root.append(p);
  }
  return root;
}

const INLINE = /(`+)([^`]+?)\1|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

function inline(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    frag.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== undefined) frag.append(h('code', m[2]));
    else if (m[3] !== undefined || m[4] !== undefined) frag.append(h('strong', inline(m[3] ?? m[4])));
    else if (m[5] !== undefined || m[6] !== undefined) frag.append(h('em', inline(m[5] ?? m[6])));
    else if (m[7] !== undefined) frag.append(link(m[8], inline(m[7])));
    else frag.append(link(m[9], m[9]));
  }
  frag.append(text.slice(last));
  return frag;
}

function link(href, content) {
  if (!/^(https?:|mailto:)/i.test(href)) return content;
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, content);
}
