// The second judge (fuzz/second_judge.py): reads JSON lines {"id": n, "html": "..."} and
// answers {"id": n, "live": [...]}, the tracker URLs (host tracker.test) that an element
// fetches in parse5's tree. parse5 follows the current HTML standard's tree builder (with
// scripting, as browsers run), so it checks the rewriter independently of html5lib 1.1.
// The rules mirror fuzz/targets.py's _html5lib_check: what each element fetches, nothing
// inside <template>, <noscript> (raw text with scripting) or the raw-text elements, and
// no script or style of type text/plain.
import { parse } from 'parse5';
import readline from 'node:readline';

const HTML = 'http://www.w3.org/1999/xhtml';
const SVG = 'http://www.w3.org/2000/svg';
const FETCHING = {
  script: ['src'], img: ['src', 'srcset'], iframe: ['src'], frame: ['src'], link: ['href', 'imagesrcset'],
  embed: ['src'], source: ['src', 'srcset'], video: ['src', 'poster'], audio: ['src'], track: ['src'],
  object: ['data'],
};
const SVG_FETCHING = new Set(['image', 'script', 'use', 'feImage']);
const INERT = new Set(['template', 'noscript', 'textarea', 'title', 'xmp', 'noembed', 'noframes']);

function isTracker(url) {
  try {
    const host = new URL(url, 'https://x/').hostname;
    return host === 'tracker.test' || host.endsWith('.tracker.test');
  } catch {
    return false;
  }
}

function walk(node, inert, live) {
  if (node.tagName) {
    const attrs = Object.fromEntries((node.attrs || []).map((a) => [(a.prefix ? a.prefix + ':' : '') + a.name, a.value]));
    let names = null;
    if (node.namespaceURI === HTML) {
      names = FETCHING[node.tagName] || null;
      if (node.tagName === 'input' && (attrs.type || '').trim().toLowerCase() === 'image') names = ['src'];
    } else if (node.namespaceURI === SVG && SVG_FETCHING.has(node.tagName)) {
      names = ['href', 'xlink:href'];
    }
    const plain = (node.tagName === 'script' || node.tagName === 'style')
      && (attrs.type || '').trim().toLowerCase() === 'text/plain';
    if (names && !inert && !plain) {
      for (const name of names) {
        const value = attrs[name] || '';
        const urls = name.includes('srcset')
          ? value.split(',').map((part) => part.trim().split(/\s+/)[0]).filter(Boolean) : [value];
        for (const url of urls) {
          if (url && isTracker(url.includes('//') ? url : 'https://x/' + url)) live.push(`<${node.tagName} ${name}=${value}>`);
        }
      }
    }
    if (node.namespaceURI === HTML && INERT.has(node.tagName)) inert = true;
  }
  for (const child of node.childNodes || []) walk(child, inert, live);
  if (node.content) walk(node.content, true, live);   // <template> contents: never fetched
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { id, html } = JSON.parse(line);
  const live = [];
  walk(parse(html, { scriptingEnabled: true }), false, live);
  process.stdout.write(JSON.stringify({ id, live }) + '\n');
}
